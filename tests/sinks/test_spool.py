from __future__ import annotations

import math
from pathlib import Path

import pytest

from collectors.model import Sample
from yiwang.sinks.spool import Spool, SpoolLocked, encode_record

from .fakes import ids, numbered


def drain(spool: Spool) -> list[list[int]]:
    batches = []
    while (batch := spool.peek()) is not None:
        batches.append(ids(batch))
        spool.pop()
    return batches


def test_batches_come_back_in_order_and_survive_a_restart(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=1 << 20, segment_bytes=2000)  # several segments
    spool.open()
    for start in range(0, 100, 10):
        assert spool.append(numbered(start, 10)) == 0
    assert spool.points == 100 and spool.batches == 10
    first = spool.peek()
    assert first is not None and ids(first) == list(range(10))
    spool.pop()
    spool.pop()
    spool.close()

    again = Spool(tmp_path, max_bytes=1 << 20, segment_bytes=2000)
    report = again.open()
    assert (report.batches, report.points, report.torn_bytes, report.lost_batches) == (8, 80, 0, 0)
    assert drain(again) == [list(range(s, s + 10)) for s in range(20, 100, 10)]
    assert again.points == 0 and again.bytes == 0
    again.close()
    assert not list(tmp_path.glob("*.spool"))


def test_samples_round_trip_exactly(tmp_path: Path) -> None:
    hostile = (("county", 'Huang "zhou", =\\ \n\t<b>'), ("device", "r1\udcff"), ("village", "黄州 区"))
    batch = [Sample("interface", hostile, {"n": 0.0, "nan": math.nan, "big": 2.0 ** 70, "neg": -0.0}, 123),
             Sample("device", (), {"n": 1.0, "up": 1}, 456)]
    spool = Spool(tmp_path, max_bytes=1 << 20)
    spool.open()
    spool.append(batch)
    back = spool.peek()
    assert back is not None
    assert [(s.measurement, s.tags, s.time_ns) for s in back] == [(s.measurement, s.tags, s.time_ns) for s in batch]
    assert back[0].fields["big"] == 2.0 ** 70 and math.isnan(back[0].fields["nan"])
    assert math.copysign(1, back[0].fields["neg"]) == -1
    assert back[1].fields == {"n": 1.0, "up": 1}
    spool.close()


def test_torn_last_line_is_reported_cut_off_and_not_fatal(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=1 << 20)
    spool.open()
    spool.append(numbered(0, 5))
    spool.append(numbered(5, 5))
    spool.close()
    segment = next(tmp_path.glob("*.spool"))
    whole = segment.stat().st_size
    partial = encode_record(numbered(10, 5))[:-17]  # a crash in the middle of the third append
    with open(segment, "ab") as handle:
        handle.write(partial)

    again = Spool(tmp_path, max_bytes=1 << 20)
    report = again.open()
    assert report.torn_bytes == len(partial)
    assert (report.batches, report.points, report.lost_batches) == (2, 10, 0)
    assert segment.stat().st_size == whole  # cut back to the last whole record
    again.append(numbered(10, 5))
    assert drain(again) == [list(range(5)), list(range(5, 10)), list(range(10, 15))]
    again.close()


def test_damaged_record_is_counted_as_lost(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=1 << 20)
    spool.open()
    for start in (0, 3, 6):
        spool.append(numbered(start, 3))
    spool.close()
    segment = next(tmp_path.glob("*.spool"))
    data = bytearray(segment.read_bytes())
    second = data.index(b"\n") + 1
    data[second + 30] ^= 0x01  # flip a bit inside the second record's JSON
    segment.write_bytes(bytes(data))

    again = Spool(tmp_path, max_bytes=1 << 20)
    report = again.open()
    assert (report.lost_batches, report.lost_points, report.batches) == (1, 3, 2)
    assert drain(again) == [[0, 1, 2], [6, 7, 8]]
    again.close()


def test_full_spool_drops_oldest_and_counts_exactly(tmp_path: Path) -> None:
    record = len(encode_record(numbered(0, 10)))
    spool = Spool(tmp_path, max_bytes=record * 5 + record // 2, segment_bytes=record * 2)
    spool.open()
    dropped = sum(spool.append(numbered(start, 10)) for start in range(0, 200, 10))
    kept = drain(spool)
    flat = [n for batch in kept for n in batch]
    assert dropped + len(flat) == 200
    assert flat == list(range(200 - len(flat), 200))  # what is left is the newest, in order
    assert 0 < spool.bytes <= spool.max_bytes or spool.bytes == 0
    spool.close()


def test_batch_larger_than_the_whole_spool_is_dropped(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=100)
    spool.open()
    assert spool.append(numbered(0, 10)) == 10
    assert spool.peek() is None
    spool.close()


def test_one_process_at_a_time(tmp_path: Path) -> None:
    first = Spool(tmp_path, max_bytes=1000)
    first.open()
    with pytest.raises(SpoolLocked):
        Spool(tmp_path, max_bytes=1000).open()
    first.close()
    second = Spool(tmp_path, max_bytes=1000)
    second.open()
    second.close()
