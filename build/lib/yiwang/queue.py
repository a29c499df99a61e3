"""One durable FIFO on disk for everything that must outlive the process: the sink spool and the notification outbox.

A queue directory holds:

- `NNNNNNNNNNNNNNNN.seg`: append-only segments. A record is a 16-byte header (payload length, weight, CRC-32 of the
  payload, CRC-32 of those three fields) followed by the payload. The weight is what the owner counts in: points
  for a sink, one per notification.
- `cursor`: the acknowledged position (segment, offset), written in place into one of two alternating slots, each
  with its own CRC, so that an acknowledgement is one 32-byte pwrite whatever the queue holds, and a torn one
  leaves the other slot to read.
- `lock`: flock'd while the queue is open, so a second process is refused (QueueLocked).

A segment is deleted once every record in it is acknowledged. When an append would go over `max_bytes`, whole
segments are deleted oldest first and their unacknowledged weight is counted in `dropped`.

What survives:

- kill -9: every append and every acknowledgement that returned. Only an append in progress can be cut short;
  the next open finds the torn record, cuts it off and counts its bytes in `OpenReport.torn_bytes`.
- power loss: with durable=True, every append that returned (each append is fsync'd before it returns); with
  durable=False, what was appended up to the last sealed segment (a segment is fsync'd when it is full, on sync()
  and on close()). Acknowledgements are fsync'd on sync() and close() only: those made since may be forgotten,
  and those records are then delivered again. Delivery is at least once, never lost for an acknowledged append.

A record whose payload fails its CRC, or that its owner cannot decode, is skipped and its weight counted in `lost`.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import struct
import zlib
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

SUFFIX = ".seg"
_FIELDS = struct.Struct("<III")  # payload length, weight, CRC-32 of the payload
_CRC = struct.Struct("<I")
HEADER_BYTES = _FIELDS.size + _CRC.size
_CURSOR = struct.Struct("<QQQ")  # generation, segment, offset; followed by their CRC-32 and 4 bytes of padding
_SLOT = 32


class QueueLocked(RuntimeError):
    pass


@dataclass(slots=True)
class OpenReport:
    """What opening found in the directory."""

    records: int = 0
    weight: int = 0
    torn_bytes: int = 0  # an unfinished last record (a crash mid-append), or all after an unreadable header: cut off
    lost_records: int = 0  # records whose payload failed its checksum
    lost_weight: int = 0


@dataclass(slots=True)
class _Segment:
    seq: int
    path: Path
    size: int = 0
    records: int = 0  # intact and not acknowledged
    weight: int = 0
    damaged: set[int] = field(default_factory=set)  # offsets of records found damaged (and counted) on open


def frame(payload: bytes, weight: int) -> bytes:
    fields = _FIELDS.pack(len(payload), weight, zlib.crc32(payload))
    return fields + _CRC.pack(zlib.crc32(fields)) + payload


def _header(raw: bytes) -> tuple[int, int, int] | None:
    """(length, weight, payload CRC) of an intact header, else None."""
    if len(raw) < HEADER_BYTES:
        return None
    fields = raw[:_FIELDS.size]
    if _CRC.unpack_from(raw, _FIELDS.size)[0] != zlib.crc32(fields):
        return None
    length, weight, crc = _FIELDS.unpack(fields)
    return length, weight, crc


class SegmentQueue:
    """The queue's disk work, synchronous. Not thread-safe: DurableQueue runs it in one thread of its own.

    One consumer: `peek()` returns the oldest record, `ack()` (or `discard()`) lets it go.
    """

    def __init__(self, directory: Path, max_bytes: int, segment_bytes: int | None = None, *,
                 durable: bool = True) -> None:
        if max_bytes <= 0:
            raise ValueError("max_bytes must be positive")
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        # Dropping takes whole segments, so a segment is a small part of the bound.
        self.segment_bytes = segment_bytes or max(1, min(64 << 20, max_bytes // 16))
        self.durable = durable
        self.records = 0
        self.weight = 0
        self.bytes = 0
        self.dropped = 0  # weight dropped to keep within max_bytes
        self.lost = 0  # weight in damaged or undecodable records
        self._segments: deque[_Segment] = deque()
        self._offset = 0  # read position in the oldest segment
        self._peeked: tuple[int, int, int] | None = None  # (segment, end offset, weight) of what peek() returned
        self._active: _Segment | None = None
        self._write_fd: int | None = None
        self._unsynced = False
        self._read_fd: int | None = None
        self._read_seq = -1
        self._cursor_fd: int | None = None
        self._cursor_gen = 0
        self._cursor_unsynced = False
        self._lock_fd: int | None = None
        self._next_seq = 1

    def open(self) -> OpenReport:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock()
        self._cursor_fd = os.open(self.directory / "cursor", os.O_RDWR | os.O_CREAT, 0o600)
        cursor_seq, cursor_offset = self._read_cursor()
        report = OpenReport()
        for path in sorted(self.directory.glob("*" + SUFFIX)):
            try:
                seq = int(path.name.removesuffix(SUFFIX))
            except ValueError:
                continue
            self._next_seq = max(self._next_seq, seq + 1)
            if seq < cursor_seq:
                path.unlink()  # acknowledged; the process stopped before deleting it
                continue
            segment = self._scan(seq, path, cursor_offset if seq == cursor_seq else 0, report)
            if segment.records:
                self._segments.append(segment)
            else:
                path.unlink()
        self._next_seq = max(self._next_seq, cursor_seq + 1)
        self._offset = cursor_offset if self._segments and self._segments[0].seq == cursor_seq else 0
        self.records = report.records = sum(s.records for s in self._segments)
        self.weight = report.weight = sum(s.weight for s in self._segments)
        self.bytes = sum(s.size for s in self._segments)
        self.lost = report.lost_weight
        if report.torn_bytes or report.lost_records:
            log.warning("queue %s: cut off %d torn bytes, lost %d damaged records (weight %d)", self.directory,
                        report.torn_bytes, report.lost_records, report.lost_weight)
        return report

    def _scan(self, seq: int, path: Path, start: int, report: OpenReport) -> _Segment:
        segment = _Segment(seq, path)
        with open(path, "r+b") as handle:
            size = handle.seek(0, os.SEEK_END)
            offset = handle.seek(start)
            while offset < size:
                header = _header(handle.read(HEADER_BYTES))
                if header is None or offset + HEADER_BYTES + header[0] > size:
                    # A record cut short by a crash mid-append, or a header that cannot be trusted: nothing after
                    # it can be framed.
                    report.torn_bytes += size - offset
                    handle.truncate(offset)
                    size = offset
                    break
                length, weight, crc = header
                if zlib.crc32(handle.read(length)) == crc:
                    segment.records += 1
                    segment.weight += weight
                else:
                    segment.damaged.add(offset)
                    report.lost_records += 1
                    report.lost_weight += weight
                offset += HEADER_BYTES + length
        segment.size = size
        return segment

    def append(self, records: Sequence[tuple[bytes, int]]) -> int:
        """Adds (payload, weight) records at the end, in one write; returns the weight dropped to make room."""
        dropped = 0
        frames: deque[tuple[bytes, int]] = deque()
        for payload, weight in records:
            data = frame(payload, weight)
            if len(data) > self.max_bytes:
                log.warning("queue %s: a record of %d bytes is larger than the whole queue; dropped",
                            self.directory, len(data))
                dropped += weight
            else:
                frames.append((data, weight))
        need = sum(len(data) for data, _ in frames)
        while self._segments and self.bytes + need > self.max_bytes:
            dropped += self._drop_oldest()
        while need > self.max_bytes:  # more than the whole queue at once: the oldest of them go too
            data, weight = frames.popleft()
            need -= len(data)
            dropped += weight
        self.dropped += dropped
        if frames:
            self._write([data for data, _ in frames], len(frames), sum(weight for _, weight in frames))
        return dropped

    def _write(self, frames: list[bytes], records: int, weight: int) -> None:
        segment, fd = self._writable()
        data = b"".join(frames)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            if self.durable:
                os.fsync(fd)
        except OSError:
            self._undo_write(segment, fd)
            raise
        self._unsynced = not self.durable
        segment.size += len(data)
        segment.records += records
        segment.weight += weight
        self.bytes += len(data)
        self.records += records
        self.weight += weight
        if segment.size >= self.segment_bytes:
            self._seal()

    def _undo_write(self, segment: _Segment, fd: int) -> None:
        """After a failed write (disk full, say), nothing may follow a partial record in the same segment."""
        try:
            os.ftruncate(fd, segment.size)
        except OSError:
            os.close(fd)
            self._active, self._write_fd = None, None
            if not segment.records:
                self._segments.remove(segment)
                segment.path.unlink(missing_ok=True)

    def peek(self) -> bytes | None:
        """The payload of the oldest record not yet acknowledged, or None. Damaged records on the way are skipped."""
        while self._segments:
            segment = self._segments[0]
            if not segment.records:  # only the newest segment can be empty: the first write into it failed
                return None
            fd = self._reader(segment)
            header = _header(os.pread(fd, HEADER_BYTES, self._offset)) if self._offset < segment.size else None
            if header is None:
                self._lose_rest(segment)  # damaged since it was opened: nothing after this can be framed
                continue
            length, weight, crc = header
            start = self._offset + HEADER_BYTES
            if self._offset in segment.damaged:  # counted when the queue was opened
                self._offset = start + length
                continue
            payload = os.pread(fd, length, start)
            self._peeked = (segment.seq, start + length, weight)
            if zlib.crc32(payload) == crc:
                return payload
            self.discard()
        return None

    def ack(self) -> int:
        """Acknowledges the record peek() returned; returns its weight (0 if the size bound dropped it meanwhile)."""
        return self._consume(lost=False)

    def discard(self) -> int:
        """Lets the record peek() returned go as lost (its owner could not decode it)."""
        return self._consume(lost=True)

    def _consume(self, *, lost: bool) -> int:
        peeked, self._peeked = self._peeked, None
        if peeked is None or not self._segments or self._segments[0].seq != peeked[0]:
            return 0
        seq, end, weight = peeked
        segment = self._segments[0]
        segment.records -= 1
        segment.weight -= weight
        self.records -= 1
        self.weight -= weight
        if lost:
            self.lost += weight
            log.error("queue %s: dropped a damaged record (weight %d)", self.directory, weight)
        self._offset = end
        self._write_cursor(seq, end)
        if not segment.records:
            self._remove_oldest()
        return weight

    def sync(self) -> None:
        """Makes appends and acknowledgements so far survive a power loss."""
        if self._write_fd is not None and self._unsynced:
            os.fsync(self._write_fd)
            self._unsynced = False
        if self._cursor_fd is not None and self._cursor_unsynced:
            os.fsync(self._cursor_fd)
            self._cursor_unsynced = False

    def close(self) -> None:
        self.sync()
        self._seal()
        for fd in (self._read_fd, self._cursor_fd, self._lock_fd):
            if fd is not None:
                os.close(fd)
        self._read_fd = self._cursor_fd = self._lock_fd = None

    def _writable(self) -> tuple[_Segment, int]:
        if self._active is None or self._write_fd is None:
            seq = self._next_seq
            self._next_seq += 1
            path = self.directory / f"{seq:016d}{SUFFIX}"
            self._write_fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            self._fsync_directory()
            self._active = _Segment(seq, path)
            self._segments.append(self._active)
        return self._active, self._write_fd

    def _seal(self) -> None:
        if self._write_fd is not None:
            if self._unsynced:
                os.fsync(self._write_fd)
            os.close(self._write_fd)
        self._active, self._write_fd, self._unsynced = None, None, False

    def _reader(self, segment: _Segment) -> int:
        if self._read_fd is None or self._read_seq != segment.seq:
            if self._read_fd is not None:
                os.close(self._read_fd)
            self._read_fd = os.open(segment.path, os.O_RDONLY)
            self._read_seq = segment.seq
        return self._read_fd

    def _drop_oldest(self) -> int:
        segment = self._segments[0]
        self.records -= segment.records
        self.weight -= segment.weight
        self._remove_oldest()
        return segment.weight

    def _lose_rest(self, segment: _Segment) -> None:
        log.error("queue %s: segment %s unreadable from offset %d; %d records (weight %d) lost", self.directory,
                  segment.path.name, self._offset, segment.records, segment.weight)
        self.lost += segment.weight
        self.records -= segment.records
        self.weight -= segment.weight
        self._remove_oldest()

    def _remove_oldest(self) -> None:
        segment = self._segments.popleft()
        if self._read_fd is not None and self._read_seq == segment.seq:
            os.close(self._read_fd)
            self._read_fd, self._read_seq = None, -1
        if segment is self._active and self._write_fd is not None:
            os.close(self._write_fd)
            self._active, self._write_fd, self._unsynced = None, None, False
        self._offset = 0
        self._peeked = None
        self.bytes -= segment.size
        segment.path.unlink(missing_ok=True)

    def _read_cursor(self) -> tuple[int, int]:
        assert self._cursor_fd is not None
        raw = os.pread(self._cursor_fd, 2 * _SLOT, 0)
        best = (0, 0, 0)
        for slot in (raw[:_SLOT], raw[_SLOT:]):
            if len(slot) < _CURSOR.size + _CRC.size:
                continue
            body = slot[:_CURSOR.size]
            if _CRC.unpack_from(slot, _CURSOR.size)[0] == zlib.crc32(body):
                best = max(best, _CURSOR.unpack(body))
        self._cursor_gen = best[0]
        return best[1], best[2]

    def _write_cursor(self, seq: int, offset: int) -> None:
        assert self._cursor_fd is not None
        self._cursor_gen += 1
        body = _CURSOR.pack(self._cursor_gen, seq, offset)
        slot = body + _CRC.pack(zlib.crc32(body)) + bytes(_SLOT - _CURSOR.size - _CRC.size)
        os.pwrite(self._cursor_fd, slot, (self._cursor_gen % 2) * _SLOT)
        self._cursor_unsynced = True

    def _fsync_directory(self) -> None:
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def _lock(self) -> None:
        fd = os.open(self.directory / "lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise QueueLocked(f"queue {self.directory} is in use by another process") from None
        self._lock_fd = fd


def _one(_: object) -> int:
    return 1


class DurableQueue(Generic[T]):
    """A SegmentQueue of items of type T, for the event loop: every call runs in the queue's own thread, one at a
    time and in call order, and encoding and decoding happen there too.

    `encode`/`decode` turn an item into bytes and back (decode raises ValueError, TypeError or KeyError on what it
    cannot read); `weight` is what an item counts for in `weight`, `dropped` and `lost`. The counters can be read
    from the loop at any time.
    """

    def __init__(self, directory: Path, encode: Callable[[T], bytes], decode: Callable[[bytes], T], *,
                 weight: Callable[[T], int] = _one, max_bytes: int, segment_bytes: int | None = None,
                 durable: bool = True, name: str = "queue") -> None:
        self._core = SegmentQueue(directory, max_bytes, segment_bytes, durable=durable)
        self._encode = encode
        self._decode = decode
        self._weight = weight
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"yiwang-{name}")
        self._closed = False

    def __repr__(self) -> str:
        return f"DurableQueue({str(self.directory)!r}, records={self.records}, bytes={self.bytes})"

    @property
    def directory(self) -> Path:
        return self._core.directory

    @property
    def max_bytes(self) -> int:
        return self._core.max_bytes

    @property
    def records(self) -> int:
        return self._core.records

    @property
    def weight(self) -> int:
        return self._core.weight

    @property
    def bytes(self) -> int:
        return self._core.bytes

    @property
    def dropped(self) -> int:
        return self._core.dropped

    @property
    def lost(self) -> int:
        return self._core.lost

    async def open(self) -> OpenReport:
        """Raises QueueLocked when another process has the directory."""
        return await self._call(self._core.open)

    async def append(self, items: Sequence[T]) -> int:
        """Adds items at the end; returns the weight dropped to make room. Raises OSError (disk full) with nothing
        added."""
        return await self._call(self._append, items)

    async def peek(self) -> T | None:
        """The oldest item not yet acknowledged, or None."""
        return await self._call(self._peek)

    async def ack(self) -> int:
        """Acknowledges the item peek() returned; returns its weight."""
        return await self._call(self._core.ack)

    async def sync(self) -> None:
        await self._call(self._core.sync)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            await self._call(self._core.close)
        finally:
            self._executor.shutdown(wait=False)

    async def _call(self, function: Callable[..., R], *args: object) -> R:
        return await asyncio.get_running_loop().run_in_executor(self._executor, function, *args)

    def _append(self, items: Sequence[T]) -> int:
        return self._core.append([(self._encode(item), self._weight(item)) for item in items])

    def _peek(self) -> T | None:
        while (payload := self._core.peek()) is not None:
            try:
                return self._decode(payload)
            except (ValueError, TypeError, KeyError) as exc:
                log.error("queue %s: a record could not be decoded: %s", self._core.directory, exc)
                self._core.discard()
        return None
