"""The audit trail on disk: JSON Lines, one hash-chained record a line, append-only, shared by processes.

The API server and each command-line invocation append to the same file at once: every append takes an
exclusive `flock` on the file, reads the end of the chain (the last line, or audit.head when that is further
on), writes one line through an O_APPEND descriptor, fsyncs it and then rewrites audit.head atomically. A thread
lock serialises the threads of one process, which share one descriptor.

The file is the record of truth; a forwarder (syslog) gets a copy of each record after it is on disk. See
`yiwang.audit.chain` for what the chain can and cannot prove.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from yiwang.audit.chain import (
    GENESIS,
    AuditEvent,
    AuditRecord,
    Head,
    Verification,
    canonical,
    chain_hash,
    parse_record,
    verify_lines,
)
from yiwang.audit.redact import redact

_BLOCK = 1 << 16


class Forwarder(Protocol):
    def send(self, record: AuditRecord) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class _Tail:
    seq: int
    hash: str
    needs_newline: bool  # the file ends in a partial line, which must stay a line of its own


class Trail(Protocol):
    """What the API, the change service and the command line write to and read from: the file trail
    (`AuditTrail`) or the database's (`yiwang.audit.sql.SqlAuditTrail`), chosen by `yiwang.audit.sql.open_trail`."""

    @property
    def where(self) -> str: ...

    def append(self, event: AuditEvent) -> AuditRecord: ...

    def records(self, since: datetime | None = None, until: datetime | None = None, identity: str | None = None,
                action: str | None = None, outcome: str | None = None, limit: int | None = 100
                ) -> list[AuditRecord]: ...

    def verify(self) -> Verification: ...

    def close(self) -> None: ...


class AuditTrail:
    """The trail in a file (JSON lines with audit.head beside it). Implements `Trail`."""

    def __init__(self, path: Path, forwarder: Forwarder | None = None) -> None:
        self.path = Path(path)
        self.head_path = self.path.with_suffix(".head")
        self.forwarder = forwarder
        self._lock = threading.Lock()
        self._fd: int | None = None  # opened at the first append: reading needs no write access

    @property
    def where(self) -> str:
        """Where the records are, for messages to the operator."""
        return str(self.path)

    def append(self, event: AuditEvent) -> AuditRecord:
        fields = event_fields(event)
        with self._lock:
            fd = self._writer()
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                tail = self._tail()
                body = {**fields, "seq": tail.seq + 1, "prev": tail.hash,
                        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")}
                record = AuditRecord(**body, hash=chain_hash(tail.hash, body))
                line = canonical(record.as_dict()).encode("utf-8") + b"\n"
                _write_all(fd, b"\n" + line if tail.needs_newline else line)
                os.fsync(fd)
                self._write_head(Head(record.seq, record.hash))
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
            if self.forwarder is not None:  # inside the thread lock, so the copies leave in the file's order
                self.forwarder.send(record)
        return record

    def records(self, since: datetime | None = None, until: datetime | None = None, identity: str | None = None,
                action: str | None = None, outcome: str | None = None, limit: int | None = 100
                ) -> list[AuditRecord]:
        """Newest first. `since` is inclusive and `until` exclusive (a naive datetime is local time); `action`
        matches as a prefix ("alerts." finds every alerts action); `outcome` "failed" also finds "failed: ...".
        Lines that are not records are skipped here: `verify` reports them. Lines are read newest first from the end
        of the file, so the newest hundred of a large trail cost about as little as those of a small one."""
        since_utc = since.astimezone(UTC) if since else None
        until_utc = until.astimezone(UTC) if until else None
        found: list[AuditRecord] = []
        if limit is not None and limit <= 0:
            return found
        # Bytes each wanted line must contain, as the trail writes it, so that most lines are never parsed.
        needles = [b'"' + json.dumps(text, ensure_ascii=False)[1:-1].encode() for text in (identity, action, outcome)
                   if text is not None]
        for line in _lines_reversed(self.path):
            if not all(needle in line for needle in needles):
                continue
            try:
                record = parse_record(line)
            except ValueError:
                continue
            if not matches(record, since_utc, until_utc, identity, action, outcome):
                continue
            found.append(record)
            if limit is not None and len(found) >= limit:
                break
        return found

    def verify(self) -> Verification:
        """The whole chain as it stood when the check began: the file's length and audit.head are read together
        under a shared lock, so an append made meanwhile (by this or another process) is neither half-read nor
        mistaken for a cut-off end."""
        try:
            file = self.path.open("rb")
        except FileNotFoundError:
            head, problem = self._head_for_check()
            return verify_lines([], head, problem)
        with file:
            fcntl.flock(file, fcntl.LOCK_SH)
            try:
                size = file.seek(0, os.SEEK_END)
                head, problem = self._head_for_check()
            finally:
                fcntl.flock(file, fcntl.LOCK_UN)
            file.seek(0)
            return verify_lines(_lines_up_to(file, size), head, problem)

    def _head_for_check(self) -> tuple[Head | None, str]:
        try:
            return Head.parse(self.head_path.read_text(encoding="utf-8")), ""
        except FileNotFoundError:
            return None, ""
        except (OSError, ValueError) as exc:
            return None, str(exc)

    def close(self) -> None:
        """Close the file and the forwarder (which flushes what it still holds, for a bounded time)."""
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
        if self.forwarder is not None:
            self.forwarder.close()

    def __enter__(self) -> AuditTrail:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _writer(self) -> int:
        if self._fd is None:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        return self._fd

    def _tail(self) -> _Tail:
        """Where the chain ends, under the file lock. When audit.head is further on than the file (its end was
        cut off), the chain continues from the head, so that the gap stays visible to `verify`."""
        at: tuple[int, str] | None = None
        for line in _lines_reversed(self.path):  # from the end: normally only the last line is read
            try:
                record = parse_record(line)
            except ValueError:
                continue  # a damaged end: the chain continues from the last good record (or the head)
            at = (record.seq, record.hash)
            break
        head = self._read_head()
        if head is not None and (at is None or head.seq > at[0]):
            at = (head.seq, head.hash)
        seq, digest = at if at is not None else (0, GENESIS)
        return _Tail(seq, digest, _ends_in_partial_line(self.path))

    def _read_head(self) -> Head | None:
        try:
            return Head.parse(self.head_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def _write_head(self, head: Head) -> None:
        temporary = self.head_path.with_name(self.head_path.name + ".tmp")  # one writer at a time: the flock
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        try:
            _write_all(fd, head.dump().encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, self.head_path)


def event_fields(event: AuditEvent) -> dict[str, Any]:
    """The record's fields from the event, redacted and in a form that reads back exactly as written."""
    return {"identity": _text(event.identity), "identity_kind": _text(event.identity_kind),
            "roles": [_text(r) for r in event.roles], "source": _text(event.source), "action": _text(event.action),
            "target": _text(event.target), "parameters": _plain(redact(event.parameters)),
            "outcome": _text(event.outcome), "status": event.status}


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _ends_in_partial_line(path: Path) -> bool:
    try:
        with path.open("rb") as file:
            size = file.seek(0, os.SEEK_END)
            if size == 0:
                return False
            file.seek(size - 1)
            return file.read(1) != b"\n"
    except FileNotFoundError:
        return False


def _lines_up_to(file: Any, size: int) -> Iterator[bytes]:
    position = 0
    for line in file:
        if position + len(line) >= size:
            yield line[:size - position]
            return
        position += len(line)
        yield line


def _lines_reversed(path: Path) -> Iterator[bytes]:
    try:
        file = path.open("rb")
    except FileNotFoundError:
        return
    with file:
        yield from _lines_reversed_from(file, file.seek(0, os.SEEK_END))


def _lines_reversed_from(file: Any, end: int) -> Iterator[bytes]:
    """Non-empty lines before `end`, last first, read in blocks from the end: small at first, as an append
    needs only the last line, then larger."""
    position, rest, block = end, b"", 4096
    while position > 0:
        step = min(block, position)
        block = min(block * 2, _BLOCK)
        position -= step
        file.seek(position)
        parts = (file.read(step) + rest).split(b"\n")
        rest = parts[0]
        for line in reversed(parts[1:]):
            if line:
                yield line
    if rest:
        yield rest


def _text(value: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates cannot be written as UTF-8
        return value.encode("utf-8", "replace").decode("utf-8")
    return value


def _plain(value: Any) -> Any:
    """A JSON value that reads back exactly as written, so that the hash can be recomputed from the file."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, Mapping):
        return {_text(str(k)): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(item) for item in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return _text(str(value))


def matches(record: AuditRecord, since: datetime | None, until: datetime | None, identity: str | None,
            action: str | None, outcome: str | None) -> bool:
    """The records' query: `action` a prefix, `outcome` also "outcome: ...", `since` inclusive, `until` exclusive."""
    if identity is not None and record.identity != identity:
        return False
    if action is not None and not record.action.startswith(action):
        return False
    if outcome is not None and not (record.outcome == outcome or record.outcome.startswith(outcome + ":")):
        return False
    if since or until:
        try:
            at = datetime.fromisoformat(record.time)
        except ValueError:
            return False
        if (since and at < since) or (until and at >= until):
            return False
    return True
