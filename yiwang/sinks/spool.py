"""An on-disk FIFO of batches: append-only segment files, read back oldest first.

One record is one batch, one line: `<crc32 hex> <points> <json>\\n`. JSON escapes newlines, so a
record never spans lines, and Samples survive exactly (surrogates included). A segment is fsync'd
when it is full and on close; a line cut short by a crash is found on the next open, reported and
cut off. Which records are consumed is kept in `cursor` (segment number and byte offset, replaced
atomically after each consumed record), so a process that stops between the inner write and the
cursor update sends that one batch again: at least once, and exactly once across ordinary stops.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import zlib
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from collectors.model import Sample

log = logging.getLogger(__name__)

_SUFFIX = ".spool"


class SpoolLocked(RuntimeError):
    pass


@dataclass(slots=True)
class _Record:
    offset: int
    length: int
    points: int


@dataclass(slots=True)
class _Segment:
    seq: int
    path: Path
    size: int = 0
    records: deque[_Record] = field(default_factory=deque)

    @property
    def points(self) -> int:
        return sum(record.points for record in self.records)


@dataclass(slots=True)
class OpenReport:
    """What a new process found in the spool directory."""

    batches: int = 0
    points: int = 0
    torn_bytes: int = 0  # an unfinished last line (a crash mid-write), cut off
    lost_batches: int = 0  # lines that failed their checksum
    lost_points: int = 0  # points in those lines, when their header could still be read


def _fields_as_dict(value: object) -> dict[str, Any]:
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"cannot spool {type(value).__name__}")


def encode_record(batch: Sequence[Sample]) -> bytes:
    # A Sample is a tuple, so it is written as [measurement, [[k, v], ...], {field: value}, time_ns].
    body = json.dumps(batch, ensure_ascii=False, separators=(",", ":"), default=_fields_as_dict)
    data = body.encode("utf-8", "surrogatepass")
    return b"%08x %d %s\n" % (zlib.crc32(data), len(batch), data)


def _split(line: bytes) -> tuple[int, bytes]:
    """(points, json) of an intact record line; ValueError when it is damaged."""
    try:
        crc, count, data = line.rstrip(b"\n").split(b" ", 2)
        if int(crc, 16) == zlib.crc32(data):
            return int(count), data
    except ValueError:
        pass
    raise ValueError("spool record failed its checksum")


def decode_record(line: bytes) -> list[Sample]:
    count, data = _split(line)
    rows = json.loads(data.decode("utf-8", "surrogatepass"))
    if len(rows) != count:
        raise ValueError("spool record holds a different number of points than its header says")
    return [Sample(m, tuple((k, v) for k, v in tags), fields, t) for m, tags, fields, t in rows]


def _header_points(line: bytes) -> int:
    try:
        return int(line.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return 0


class Spool:
    """Not thread-safe: one owner (the BufferedSink's flush task) calls it, one call at a time."""

    def __init__(self, directory: Path, max_bytes: int, segment_bytes: int | None = None) -> None:
        if max_bytes <= 0:
            raise ValueError("max_bytes must be positive")
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        # Dropping happens a whole segment at a time, so segments are a small part of the bound.
        self.segment_bytes = segment_bytes or max(1, min(64 << 20, max_bytes // 16))
        self._segments: deque[_Segment] = deque()
        self._active: _Segment | None = None
        self._active_fd: int | None = None
        self._next_seq = 1
        self._lock_fd: int | None = None
        self.points = 0
        self.bytes = 0

    @property
    def batches(self) -> int:
        return sum(len(segment.records) for segment in self._segments)

    def open(self) -> OpenReport:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock()
        cursor_seq, cursor_offset = self._read_cursor()
        report = OpenReport()
        for path in sorted(self.directory.glob("*" + _SUFFIX)):
            try:
                seq = int(path.name.removesuffix(_SUFFIX))
            except ValueError:
                continue
            self._next_seq = max(self._next_seq, seq + 1)
            if seq < cursor_seq:
                path.unlink()  # consumed; the process stopped before deleting it
                continue
            segment = self._scan(seq, path, cursor_offset if seq == cursor_seq else 0, report)
            if segment.records:
                self._segments.append(segment)
            else:
                path.unlink()
        self._next_seq = max(self._next_seq, cursor_seq + 1)
        self.points = sum(segment.points for segment in self._segments)
        self.bytes = sum(segment.size for segment in self._segments)
        report.batches, report.points = self.batches, self.points
        if report.torn_bytes or report.lost_batches:
            log.warning("spool %s: cut off a torn last line of %d bytes, lost %d damaged batches (%d points)",
                        self.directory, report.torn_bytes, report.lost_batches, report.lost_points)
        return report

    def _scan(self, seq: int, path: Path, start: int, report: OpenReport) -> _Segment:
        data = path.read_bytes()
        segment = _Segment(seq, path, size=len(data))
        offset = 0
        while offset < len(data):
            end = data.find(b"\n", offset)
            if end < 0:
                # A crash mid-append leaves a line without its newline: never a complete batch.
                report.torn_bytes += len(data) - offset
                with open(path, "r+b") as handle:
                    handle.truncate(offset)
                segment.size = offset
                break
            line = data[offset:end + 1]
            if offset >= start:
                try:
                    points, _ = _split(line)
                except ValueError:
                    report.lost_batches += 1
                    report.lost_points += _header_points(line)
                else:
                    segment.records.append(_Record(offset, len(line), points))
            offset = end + 1
        return segment

    def append(self, batch: Sequence[Sample]) -> int:
        """Adds a batch at the end; returns how many points were dropped to make room."""
        if not batch:
            return 0
        record = encode_record(batch)
        if len(record) > self.max_bytes:
            log.warning("spool %s: a batch of %d points (%d bytes) is larger than the whole spool; dropped",
                        self.directory, len(batch), len(record))
            return len(batch)
        dropped = 0
        while self._segments and self.bytes + len(record) > self.max_bytes:
            dropped += self._drop_oldest()
        segment, fd = self._writable()
        os.write(fd, record)
        segment.records.append(_Record(segment.size, len(record), len(batch)))
        segment.size += len(record)
        self.bytes += len(record)
        self.points += len(batch)
        if segment.size >= self.segment_bytes:
            self._seal()
        return dropped

    def peek(self) -> list[Sample] | None:
        """The oldest batch, or None; a damaged one raises ValueError (drop it with pop())."""
        if not self._segments:
            return None
        segment = self._segments[0]
        record = segment.records[0]
        with open(segment.path, "rb") as handle:
            handle.seek(record.offset)
            line = handle.read(record.length)
        return decode_record(line)

    def pop(self) -> int:
        """Marks the oldest batch consumed (after the database took it); returns its points."""
        segment = self._segments[0]
        record = segment.records.popleft()
        self.points -= record.points
        if not segment.records:
            self._segments.popleft()
            self._remove(segment)
        self._write_cursor(segment.seq, record.offset + record.length)
        return record.points

    def close(self) -> None:
        self._seal()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def _writable(self) -> tuple[_Segment, int]:
        if self._active is None or self._active_fd is None:
            seq = self._next_seq
            self._next_seq += 1
            path = self.directory / f"{seq:016d}{_SUFFIX}"
            self._active_fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            self._fsync_directory()
            self._active = _Segment(seq, path)
            self._segments.append(self._active)
        return self._active, self._active_fd

    def _seal(self) -> None:
        if self._active_fd is not None:
            os.fsync(self._active_fd)
            os.close(self._active_fd)
        self._active, self._active_fd = None, None

    def _drop_oldest(self) -> int:
        segment = self._segments.popleft()
        points = segment.points
        self.points -= points
        self._remove(segment)
        return points

    def _remove(self, segment: _Segment) -> None:
        if segment is self._active and self._active_fd is not None:
            os.close(self._active_fd)
            self._active, self._active_fd = None, None
        self.bytes -= segment.size
        segment.path.unlink(missing_ok=True)

    def _read_cursor(self) -> tuple[int, int]:
        try:
            seq, offset = (self.directory / "cursor").read_text().split()
            return int(seq), int(offset)
        except (OSError, ValueError):
            return 0, 0

    def _write_cursor(self, seq: int, offset: int) -> None:
        tmp = self.directory / "cursor.tmp"
        tmp.write_text(f"{seq} {offset}\n")
        os.replace(tmp, self.directory / "cursor")

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
            raise SpoolLocked(f"spool {self.directory} is in use by another process") from None
        self._lock_fd = fd
