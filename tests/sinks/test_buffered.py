from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

import pytest

from yiwang.queue import HEADER_BYTES, SegmentQueue, frame
from yiwang.sinks.buffered import BufferedSink, BufferPolicy, encode_samples

from .fakes import FakeSink, numbered, spool_files


def make(inner: FakeSink, spool_dir: Path, **options: object) -> BufferedSink:
    settings: dict[str, object] = {"max_batch": 10, "flush_interval": 0.02, "backoff_initial": 0.02,
                                   "backoff_max": 0.1}
    settings.update(options)
    name = str(settings.pop("name", "influx"))
    return BufferedSink(inner, spool_dir, BufferPolicy(**settings), name)  # type: ignore[arg-type]


async def wait_until(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    for _ in range(int(seconds / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not met in time")


async def test_batches_are_cut_at_max_batch_and_written_in_order(tmp_path: Path) -> None:
    db = FakeSink()
    sink = make(db, tmp_path)
    await sink.start()
    sink.add(numbered(0, 25))
    sink.add(numbered(25, 3))
    async with asyncio.timeout(5):
        await sink.flush()
    assert db.written == [list(range(0, 10)), list(range(10, 20)), list(range(20, 28))]
    assert (sink.stats.written_points, sink.stats.queued_points, sink.stats.spooled_points) == (28, 0, 0)
    await sink.close()
    assert db.closed


async def test_outage_spools_then_replays_in_order_without_duplicates(tmp_path: Path) -> None:
    db = FakeSink()
    sink = make(db, tmp_path)
    await sink.start()
    sink.add(numbered(0, 20))
    async with asyncio.timeout(5):
        await sink.flush()
    db.down = True
    for start in range(20, 120, 10):
        sink.add(numbered(start, 10))
        await asyncio.sleep(0.01)
    await wait_until(lambda: sink.stats.spool_points >= 80)
    assert not sink.stats.healthy and "down" in sink.stats.last_error
    db.down = False
    sink.add(numbered(120, 10))  # arrives while the backlog is still on disk: must come after it
    async with asyncio.timeout(10):
        await sink.flush()
    assert db.points() == list(range(130))
    assert sink.stats.replayed_points == sink.stats.spooled_points > 0
    assert sink.stats.healthy and sink.stats.dropped_points == 0
    await sink.close()
    assert not await asyncio.to_thread(spool_files, tmp_path)


async def test_close_spools_everything_when_the_database_is_down_and_restart_replays(tmp_path: Path) -> None:
    db = FakeSink()
    db.down = True
    sink = make(db, tmp_path, max_batch=7)
    await sink.start()
    for start in range(0, 100, 20):
        sink.add(numbered(start, 20))
    await sink.close(grace_s=1.0)
    assert sink.stats.written_points == 0 and sink.stats.queued_points == 0
    assert sink.stats.spool_points == 100

    db.down = False
    again = make(db, tmp_path, max_batch=7)
    await again.start()
    assert again.opened.weight == 100
    again.add(numbered(100, 5))
    async with asyncio.timeout(10):
        await again.flush()
    assert db.points() == list(range(105))
    await again.close()


async def test_close_writes_what_it_can_within_the_grace_period_and_spools_the_rest(tmp_path: Path) -> None:
    db = FakeSink()
    db.delay = 0.05
    sink = make(db, tmp_path, flush_interval=60.0)  # nothing leaves before close()
    await sink.start()
    sink.add(numbered(0, 200))
    await sink.close(grace_s=0.5)
    written = db.points()
    assert 0 < len(written) < 200 and written == list(range(len(written)))
    assert sink.stats.spool_points == 200 - len(written)

    db.delay = 0.0
    again = make(db, tmp_path)
    await again.start()
    async with asyncio.timeout(10):
        await again.flush()
    assert db.points() == list(range(200))
    await again.close()


async def test_close_replays_the_backlog_when_the_database_is_back(tmp_path: Path) -> None:
    db = FakeSink()
    db.down = True
    sink = make(db, tmp_path, backoff_initial=0.01, backoff_max=0.01)
    await sink.start()
    sink.add(numbered(0, 50))
    await wait_until(lambda: sink.stats.spool_points == 50)
    db.down = False
    await asyncio.sleep(0.02)
    await sink.close(grace_s=5.0)
    assert db.points() == list(range(50)) and sink.stats.spool_points == 0


async def test_full_spool_drops_the_oldest_and_counts_them(tmp_path: Path) -> None:
    db = FakeSink()
    db.down = True
    sink = make(db, tmp_path, max_spool_bytes=4000, segment_bytes=1)
    await sink.start()
    for start in range(0, 300, 10):
        sink.add(numbered(start, 10))
        await asyncio.sleep(0.005)
    await sink.close(grace_s=0.5)
    dropped = sink.stats.dropped_points
    assert dropped > 0 and dropped % 10 == 0

    db.down = False
    again = make(db, tmp_path, max_spool_bytes=4000, segment_bytes=1)
    await again.start()
    async with asyncio.timeout(10):
        await again.flush()
    assert db.points() == list(range(dropped, 300))  # exactly the oldest `dropped` points are gone
    health = again.health_samples()[0]
    assert health.fields["dropped_points_total"] == 0  # counters are per process; the first one had them
    await again.close()


async def test_rejected_batch_is_dropped_and_the_rest_goes_on(tmp_path: Path, caplog: pytest.LogCaptureFixture
                                                              ) -> None:
    db = FakeSink()
    db.reject = {10}
    sink = make(db, tmp_path)
    await sink.start()
    with caplog.at_level(logging.ERROR):
        sink.add(numbered(0, 30))
        async with asyncio.timeout(5):
            await sink.flush()
    assert db.points() == list(range(10)) + list(range(20, 30))
    assert sink.stats.rejected_points == 10 and sink.stats.dropped_points == 0
    assert "bad request" in sink.stats.last_error
    await sink.close()


async def test_memory_bound_when_the_spool_cannot_be_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                             ) -> None:
    db = FakeSink()
    db.down = True

    def disk_full(self: SegmentQueue, records: object) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(SegmentQueue, "append", disk_full)
    sink = make(db, tmp_path, max_queue_points=50)
    await sink.start()
    for start in range(0, 200, 10):
        sink.add(numbered(start, 10))
        await asyncio.sleep(0.005)
    assert sink.stats.queued_points <= 50
    assert sink.stats.dropped_points + sink.stats.queued_points == 200
    assert "No space left" in sink.stats.last_error
    await sink.close(grace_s=0.1)
    assert sink.stats.dropped_points == 200


async def test_health_sample_names_for_the_prometheus_view(tmp_path: Path) -> None:
    sink = make(FakeSink(), tmp_path, name="influx-main")
    await sink.start()
    sink.add(numbered(0, 3))
    async with asyncio.timeout(5):
        await sink.flush()
    (sample,) = sink.health_samples(time_ns=5)
    assert sample.measurement == "sink" and sample.tags == (("sink", "influx-main"),) and sample.time_ns == 5
    assert sample.fields["written_points_total"] == 3 and sample.fields["up"] == 1
    assert {"dropped_points_total", "spooled_points_total", "queued_points", "spool_bytes",
            "last_error_timestamp_seconds"} <= set(sample.fields)
    await sink.close()
    sink.add(numbered(3, 2))  # after close: counted, not silently lost
    assert sink.stats.dropped_points == 2


async def test_two_sinks_cannot_share_a_spool(tmp_path: Path) -> None:
    first = make(FakeSink(), tmp_path)
    await first.start()
    with pytest.raises(RuntimeError, match="in use"):
        await make(FakeSink(), tmp_path).start()
    await first.close()


async def test_damaged_spool_batch_counts_as_dropped_and_the_rest_replays(tmp_path: Path) -> None:
    db = FakeSink()
    db.down = True
    sink = make(db, tmp_path)
    await sink.start()
    sink.add(numbered(0, 30))
    await sink.close(grace_s=0.1)
    assert sink.stats.spool_points == 30
    (segment,) = spool_files(tmp_path)
    data = bytearray(segment.read_bytes())
    data[len(frame(encode_samples(numbered(0, 10)), 10)) + HEADER_BYTES + 30] ^= 0x01  # inside the second batch
    segment.write_bytes(bytes(data))

    db.down = False
    again = make(db, tmp_path)
    await again.start()
    async with asyncio.timeout(10):
        await again.flush()
    assert db.points() == list(range(10)) + list(range(20, 30))
    assert again.health_samples()[0].fields["dropped_points_total"] == 10
    await again.close()
