"""The one durable queue (yiwang.queue): crash safety with real processes, the bound, the lock, and what an
acknowledgement costs, counted in bytes and write calls by the kernel (/proc/self/io), not timed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from yiwang.queue import HEADER_BYTES, SUFFIX, DurableQueue, SegmentQueue, frame

from .worker import decode, encode

WORKER = Path(__file__).with_name("worker.py")


def run_worker(mode: str, directory: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, str(WORKER), mode, str(directory)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def segments(directory: Path) -> list[Path]:
    return sorted(directory.glob("*" + SUFFIX))


def put(queue: SegmentQueue, *numbers: int) -> int:
    return queue.append([(encode(n), 1) for n in numbers])


def drain(queue: SegmentQueue) -> list[int]:
    got = []
    while (payload := queue.peek()) is not None:
        got.append(decode(payload))
        queue.ack()
    return got


def opened(directory: Path, max_bytes: int = 1 << 30, segment_bytes: int | None = None) -> SegmentQueue:
    queue = SegmentQueue(directory, max_bytes, segment_bytes, durable=False)
    queue.open()
    return queue


def kill_inside_an_append(directory: Path) -> int:
    """Runs the append worker and kills it with SIGKILL while it writes item 299 (32 MiB); returns the last
    item whose append had returned."""
    worker = run_worker("append", directory)
    assert worker.stdout is not None
    assert worker.stdout.readline().strip() == "acked 20"
    written = -1
    while written < 298:
        written = int(worker.stdout.readline())
    size = sum(path.stat().st_size for path in segments(directory))
    while sum(path.stat().st_size for path in segments(directory)) == size:
        pass  # the write of item 299 has not started
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=10)
    return written


def test_kill_9_in_the_middle_of_appends_loses_nothing_that_was_written(tmp_path: Path) -> None:
    torn = 0
    for attempt in range(5):  # the kill lands inside the write nearly always; a torn tail is wanted at least once
        directory = tmp_path / str(attempt)
        written = kill_inside_an_append(directory)
        queue = SegmentQueue(directory, 1 << 40)
        report = queue.open()
        got = drain(queue)
        queue.close()
        assert got == list(range(20, got[-1] + 1))  # the acknowledged 20 stay acknowledged; in order, no gap
        assert got[-1] in (written, written + 1)  # every append that returned is there, perhaps one more
        torn += report.torn_bytes
        if torn:
            break
    assert torn > 0


def test_torn_tails_are_cut_off_and_counted(tmp_path: Path) -> None:
    for torn in (frame(encode(3), 1)[:HEADER_BYTES - 5],  # inside the header
                 frame(encode(3), 1)[:-1],  # inside the payload
                 bytes(4096)):  # zeros, as a power loss can leave after the file grew
        directory = tmp_path / str(len(torn))
        queue = opened(directory)
        put(queue, 0, 1, 2)
        queue.close()
        (segment,) = segments(directory)
        whole = segment.stat().st_size
        with open(segment, "ab") as handle:
            handle.write(torn)
        again = SegmentQueue(directory, 1 << 30, durable=False)
        report = again.open()
        assert (report.torn_bytes, report.records, report.lost_records) == (len(torn), 3, 0)
        assert segment.stat().st_size == whole
        put(again, 3)
        assert drain(again) == [0, 1, 2, 3]
        again.close()


def test_the_bound_drops_the_oldest_segments_and_counts_their_weight(tmp_path: Path) -> None:
    record = len(frame(encode(0), 5))  # encode(0) is the smallest item
    queue = SegmentQueue(tmp_path, max_bytes=record * 10, segment_bytes=record * 3, durable=False)
    queue.open()
    dropped = sum(queue.append([(encode(0) + b"%04d" % n, 5)]) for n in range(40))
    assert dropped == queue.dropped and dropped % 15 == 0 and dropped > 0  # whole segments of 3 records of 5
    assert queue.bytes <= queue.max_bytes
    kept = []
    while (payload := queue.peek()) is not None:
        kept.append(int(payload[-4:]))
        queue.ack()
    assert dropped // 5 + len(kept) == 40
    assert kept == list(range(40 - len(kept), 40))  # the newest, in order
    queue.close()


def test_a_second_process_is_refused(tmp_path: Path) -> None:
    queue = opened(tmp_path)
    out, _ = run_worker("lock", tmp_path).communicate(timeout=30)
    assert out.strip() == "locked"
    queue.close()
    out, _ = run_worker("lock", tmp_path).communicate(timeout=30)
    assert out.strip() == "opened"


def test_a_write_the_disk_refuses_leaves_nothing_half_written(tmp_path: Path) -> None:
    worker = run_worker("efbig", tmp_path)
    out, err = worker.communicate(timeout=60)
    lines = out.split("\n")
    assert lines[0].startswith("refused ") and lines[1] == "ok", err
    appended = int(lines[0].split()[1]) + 1
    queue = SegmentQueue(tmp_path, 1 << 30)
    report = queue.open()
    assert (report.records, report.torn_bytes, report.lost_records) == (appended, 0, 0)
    assert drain(queue) == [n % 40 for n in range(appended)]
    queue.close()


def test_acknowledged_segments_are_deleted_and_acks_survive_a_restart(tmp_path: Path) -> None:
    queue = opened(tmp_path, segment_bytes=1)  # one record per segment
    for n in range(1, 11):
        put(queue, n)
    assert len(segments(tmp_path)) == 10
    for _ in range(5):
        queue.peek()
        queue.ack()
    assert len(segments(tmp_path)) == 5
    queue.close()
    again = opened(tmp_path)
    assert drain(again) == [6, 7, 8, 9, 10]
    assert not segments(tmp_path)
    again.close()


def test_a_torn_cursor_write_falls_back_to_the_previous_one(tmp_path: Path) -> None:
    queue = opened(tmp_path)
    put(queue, *range(5))
    for _ in range(3):
        queue.peek()
        queue.ack()
    queue.close()
    cursor = bytearray((tmp_path / "cursor").read_bytes())
    cursor[32 + 8] ^= 0xFF  # the third acknowledgement went to the second slot; damage it
    (tmp_path / "cursor").write_bytes(bytes(cursor))
    again = opened(tmp_path)
    assert drain(again) == [2, 3, 4]  # one sent again, none lost
    again.close()


async def test_undecodable_items_are_skipped_and_counted_as_lost(tmp_path: Path) -> None:
    raw = SegmentQueue(tmp_path, 1 << 20)
    raw.open()
    raw.append([(encode(1), 2), (b"not a number", 3), (encode(2), 2)])
    raw.close()
    queue = DurableQueue(tmp_path, encode, decode, weight=lambda n: 2, max_bytes=1 << 20)
    await queue.open()
    assert await queue.peek() == 1
    await queue.ack()
    assert await queue.peek() == 2
    assert (queue.lost, queue.records, queue.weight) == (3, 1, 2)
    await queue.ack()
    await queue.close()


def io_counters() -> tuple[int, int]:
    """Bytes this process handed to write calls, and the number of those calls, as the kernel counts them."""
    fields = dict(line.split(": ") for line in Path("/proc/self/io").read_text().splitlines())
    return int(fields["wchar"]), int(fields["syscw"])


@pytest.mark.skipif(not Path("/proc/self/io").exists(), reason="needs Linux /proc/self/io")
async def test_delivering_an_entry_costs_the_same_with_10_or_10000_pending(tmp_path: Path) -> None:
    cost = {}
    for pending in (10, 10_000):
        queue = DurableQueue(tmp_path / str(pending), lambda n: b"%d" % n, int, max_bytes=1 << 40)
        await queue.open()
        await queue.append(list(range(pending)))
        acks = 5
        bytes_before, calls_before = io_counters()
        for _ in range(acks):
            await queue.peek()
            await queue.ack()
        bytes_after, calls_after = io_counters()
        cost[pending] = ((bytes_after - bytes_before) / acks, (calls_after - calls_before) / acks)
        await queue.close()
    small, large = cost[10], cost[10_000]
    # One 32-byte cursor slot per ack (plus the event loop's wake-up bytes), whatever the queue holds; the old
    # outbox rewrote every pending entry, here some hundreds of kilobytes.
    assert large == small, cost
    assert large[0] <= 64 and large[1] <= 4, cost
    assert os.path.getsize(tmp_path / "10000" / "cursor") == 64
