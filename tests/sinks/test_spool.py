"""The sink's spool: batches of Samples in a yiwang.queue, one record per batch weighted by its points."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import pytest

from collectors.model import Sample
from yiwang.queue import HEADER_BYTES, QueueLocked, SegmentQueue, frame
from yiwang.sinks.buffered import decode_samples, encode_samples

from .fakes import ids, numbered, spool_files


def put(spool: SegmentQueue, batch: Sequence[Sample]) -> int:
    return spool.append([(encode_samples(batch), len(batch))])


def record_bytes(batch: Sequence[Sample]) -> int:
    return len(frame(encode_samples(batch), len(batch)))


def drain(spool: SegmentQueue) -> list[list[int]]:
    batches = []
    while (payload := spool.peek()) is not None:
        batches.append(ids(decode_samples(payload)))
        spool.ack()
    return batches


def opened(path: Path, max_bytes: int = 1 << 20, segment_bytes: int | None = None) -> SegmentQueue:
    spool = SegmentQueue(path, max_bytes, segment_bytes, durable=False)
    spool.open()
    return spool


def test_batches_come_back_in_order_and_survive_a_restart(tmp_path: Path) -> None:
    spool = opened(tmp_path, segment_bytes=2000)  # several segments
    for start in range(0, 100, 10):
        assert put(spool, numbered(start, 10)) == 0
    assert spool.weight == 100 and spool.records == 10 and len(spool_files(tmp_path)) > 2
    first = spool.peek()
    assert first is not None and ids(decode_samples(first)) == list(range(10))
    assert spool.ack() == 10
    spool.peek()
    spool.ack()
    spool.close()

    again = SegmentQueue(tmp_path, 1 << 20, 2000, durable=False)
    report = again.open()
    assert (report.records, report.weight, report.torn_bytes, report.lost_records) == (8, 80, 0, 0)
    assert drain(again) == [list(range(s, s + 10)) for s in range(20, 100, 10)]
    assert again.weight == 0 and again.bytes == 0
    again.close()
    assert not spool_files(tmp_path)


def test_samples_round_trip_exactly(tmp_path: Path) -> None:
    hostile = (("county", 'Huang "zhou", =\\ \n\t<b>'), ("device", "r1\udcff"), ("village", "黄州 区"))
    batch = [Sample("interface", hostile, {"n": 0.0, "nan": math.nan, "big": 2.0 ** 70, "neg": -0.0}, 123),
             Sample("device", (), {"n": 1.0, "up": 1}, 456)]
    spool = opened(tmp_path)
    put(spool, batch)
    payload = spool.peek()
    assert payload is not None
    back = decode_samples(payload)
    assert [(s.measurement, s.tags, s.time_ns) for s in back] == [(s.measurement, s.tags, s.time_ns) for s in batch]
    assert back[0].fields["big"] == 2.0 ** 70 and math.isnan(back[0].fields["nan"])
    assert math.copysign(1, back[0].fields["neg"]) == -1
    assert back[1].fields == {"n": 1.0, "up": 1}
    spool.close()


def test_torn_last_record_is_reported_cut_off_and_not_fatal(tmp_path: Path) -> None:
    spool = opened(tmp_path)
    put(spool, numbered(0, 5))
    put(spool, numbered(5, 5))
    spool.close()
    (segment,) = spool_files(tmp_path)
    whole = segment.stat().st_size
    partial = frame(encode_samples(numbered(10, 5)), 5)[:-17]  # a crash in the middle of the third append
    with open(segment, "ab") as handle:
        handle.write(partial)

    again = SegmentQueue(tmp_path, 1 << 20, durable=False)
    report = again.open()
    assert report.torn_bytes == len(partial)
    assert (report.records, report.weight, report.lost_records) == (2, 10, 0)
    assert segment.stat().st_size == whole  # cut back to the last whole record
    put(again, numbered(10, 5))
    assert drain(again) == [list(range(5)), list(range(5, 10)), list(range(10, 15))]
    again.close()


def test_damaged_record_is_counted_as_lost(tmp_path: Path) -> None:
    spool = opened(tmp_path)
    for start in (0, 3, 6):
        put(spool, numbered(start, 3))
    spool.close()
    (segment,) = spool_files(tmp_path)
    data = bytearray(segment.read_bytes())
    data[record_bytes(numbered(0, 3)) + HEADER_BYTES + 30] ^= 0x01  # a bit inside the second record's JSON
    segment.write_bytes(bytes(data))

    again = SegmentQueue(tmp_path, 1 << 20, durable=False)
    report = again.open()
    assert (report.lost_records, report.lost_weight, report.records) == (1, 3, 2)
    assert drain(again) == [[0, 1, 2], [6, 7, 8]]
    assert again.lost == 3
    again.close()


def test_full_spool_drops_oldest_and_counts_exactly(tmp_path: Path) -> None:
    record = record_bytes(numbered(0, 10))
    spool = opened(tmp_path, max_bytes=record * 5 + record // 2, segment_bytes=record * 2)
    dropped = sum(put(spool, numbered(start, 10)) for start in range(0, 200, 10))
    assert dropped == spool.dropped
    kept = drain(spool)
    flat = [n for batch in kept for n in batch]
    assert dropped + len(flat) == 200
    assert flat == list(range(200 - len(flat), 200))  # what is left is the newest, in order
    spool.close()


def test_batch_larger_than_the_whole_spool_is_dropped(tmp_path: Path) -> None:
    spool = opened(tmp_path, max_bytes=100)
    assert put(spool, numbered(0, 10)) == 10
    assert spool.peek() is None
    spool.close()


def test_one_owner_at_a_time(tmp_path: Path) -> None:
    first = opened(tmp_path, max_bytes=1000)
    with pytest.raises(QueueLocked):
        SegmentQueue(tmp_path, 1000).open()
    first.close()
    opened(tmp_path, max_bytes=1000).close()
