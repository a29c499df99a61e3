"""The hash chain, pure: records, their canonical form and hash, and the check of a whole file's lines.

Each record's hash is SHA-256 over the previous record's hash followed by the canonical JSON of the record
without its own hash (sorted keys, no spaces, UTF-8). Editing, deleting or reordering a record therefore breaks
the chain at that point, and `audit.head` (the last record's seq and hash, kept beside the file) shows a cut-off
tail. Someone who can write the file can still rebuild the whole chain after an edit: the chain makes tampering
detectable, not impossible, and the copy sent to a syslog receiver on another host is the external witness.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

GENESIS = "0" * 64  # the prev of record 1
FIELDS = ("seq", "time", "identity", "identity_kind", "roles", "source", "action", "target", "parameters",
          "outcome", "status", "prev", "hash")
_HEX64 = re.compile(r"[0-9a-f]{64}")


def canonical(value: Mapping[str, Any]) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def chain_hash(prev: str, body: Mapping[str, Any]) -> str:
    # surrogatepass: a hand-edited file may hold a lone surrogate escape; it must hash, not crash the check
    return hashlib.sha256((prev + canonical(body)).encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """What happened, as the caller knows it; the trail adds seq, time and the chain."""

    identity: str
    identity_kind: str  # "user", "token", "ldap", "os", ...
    roles: list[str]
    source: str  # client address, or "local:<hostname>" for the command line
    action: str
    target: str
    parameters: dict[str, Any]
    outcome: str  # "ok", "denied", "failed: <reason>"
    status: int | None = None  # the HTTP status, for API requests


@dataclass(frozen=True, slots=True)
class AuditRecord:
    seq: int
    time: str  # UTC, ISO 8601 with microseconds
    identity: str
    identity_kind: str
    roles: list[str]
    source: str
    action: str
    target: str
    parameters: dict[str, Any]
    outcome: str
    status: int | None
    prev: str
    hash: str

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in FIELDS}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AuditRecord:
        """Raises ValueError saying what is wrong when `data` is not a well-formed record."""
        keys = set(data)
        if keys != set(FIELDS):
            missing, extra = sorted(set(FIELDS) - keys), sorted(keys - set(FIELDS))
            raise ValueError("; ".join(([f"missing {', '.join(missing)}"] if missing else [])
                                       + ([f"unexpected {', '.join(extra)}"] if extra else [])))
        seq, status = data["seq"], data["status"]
        if type(seq) is not int or seq < 1:
            raise ValueError("seq is not a positive integer")
        if status is not None and type(status) is not int:
            raise ValueError("status is not an integer")
        for name in ("time", "identity", "identity_kind", "source", "action", "target", "outcome"):
            if not isinstance(data[name], str):
                raise ValueError(f"{name} is not a string")
        roles = data["roles"]
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise ValueError("roles is not a list of strings")
        if not isinstance(data["parameters"], dict):
            raise ValueError("parameters is not an object")
        for name in ("prev", "hash"):
            if not isinstance(data[name], str) or not _HEX64.fullmatch(data[name]):
                raise ValueError(f"{name} is not a SHA-256 hex digest")
        return cls(**{name: data[name] for name in FIELDS})


@dataclass(frozen=True, slots=True)
class Head:
    seq: int
    hash: str

    @classmethod
    def parse(cls, text: str) -> Head:
        try:
            data = json.loads(text)
            seq, digest = data["seq"], data["hash"]
        except (ValueError, TypeError, KeyError):
            raise ValueError("not {\"seq\": N, \"hash\": \"...\"}") from None
        if type(seq) is not int or seq < 0 or not isinstance(digest, str) or not _HEX64.fullmatch(digest):
            raise ValueError("seq or hash out of shape")
        return cls(seq, digest)

    def dump(self) -> str:
        return json.dumps({"seq": self.seq, "hash": self.hash}) + "\n"


@dataclass(frozen=True, slots=True)
class Verification:
    """`first_bad` is the first sequence number that cannot be vouched for: the record that was edited, or the
    first one missing, moved or unreadable where it should be; `line` is the line where that was found."""

    ok: bool
    records: int  # records checked and found intact before the first bad one (all of them when ok)
    first_bad: int | None
    reason: str
    line: int | None = field(default=None)


def parse_record(line: bytes) -> AuditRecord:
    """Raises ValueError (with the reason) for a line that is not a record."""
    try:
        data = json.loads(line)
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        raise ValueError(f"not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    return AuditRecord.from_dict(data)


def check_record(record: AuditRecord, expected_seq: int, prev_hash: str, line_no: int) -> str | None:
    """Why `record`, read at `line_no`, breaks the chain there, or None when it fits."""
    if record.seq > expected_seq:
        missing = (f"record {expected_seq} is" if record.seq == expected_seq + 1
                   else f"records {expected_seq}-{record.seq - 1} are")
        return f"{missing} missing: line {line_no} holds record {record.seq} (deleted or moved)"
    if record.seq < expected_seq:
        return (f"line {line_no} holds record {record.seq} where record {expected_seq} belongs "
                "(records reordered or duplicated)")
    body = record.as_dict()
    del body["hash"]
    if chain_hash(record.prev, body) != record.hash:
        return f"record {record.seq} was altered: its content does not match its hash"
    if record.prev != prev_hash:
        return (f"record {record.seq} does not follow record {record.seq - 1}: its prev is not that record's hash "
                "(a record was replaced or the chain was rebuilt)")
    return None


def verify_lines(lines: Iterable[bytes], head: Head | None, head_problem: str = "") -> Verification:
    """Check every line in order, stopping at the first break. `head` is what audit.head says (None: no head
    file); `head_problem` says why it could not be read."""
    expected, prev, line_no = 1, GENESIS, 0
    for line_no, line in enumerate(lines, start=1):
        try:
            record = parse_record(line.rstrip(b"\n"))
        except ValueError as exc:
            return Verification(False, expected - 1, expected, f"line {line_no} is not a valid record ({exc}); "
                                f"record {expected} was expected there", line_no)
        reason = check_record(record, expected, prev, line_no)
        if reason:
            return Verification(False, expected - 1, expected, reason, line_no)
        expected, prev = record.seq + 1, record.hash
    last = expected - 1
    if head_problem:
        return Verification(False, last, None, f"audit.head is unreadable ({head_problem}): a cut-off end of the "
                                               "file could not be seen")
    if head is not None and head.seq > last:
        cut = f"record {head.seq} was" if head.seq == last + 1 else f"records {last + 1}-{head.seq} were"
        return Verification(False, last, last + 1, f"the file ends after record {last} but audit.head says the "
                                                  f"last record is {head.seq}: {cut} cut off the end", line_no + 1)
    if head is not None and head.seq == last and head.hash != prev:
        return Verification(False, last - 1, last, f"record {last} is not the last record audit.head recorded "
                                                   "(the end of the file was replaced)", line_no)
    if head is None and last:
        return Verification(True, last, None, "chain intact (no audit.head: a cut-off end would not be seen)")
    return Verification(True, last, None, "chain intact")
