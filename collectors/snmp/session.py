"""What the poller needs from SNMP: get scalars and walk table columns; errors as SnmpFailure subclasses.

Also holds the column-walk state machine both implementations drive, so that the pysnmp and the hand-written
v2c client cannot disagree on when a column ends or what counts as a misbehaving agent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from collectors.snmp import ber

Value = ber.Value


class SnmpFailure(Exception):
    """``reason`` is a short code safe as a metric label; str() is the message for people, naming the target."""

    reason = "snmp"

    def __init__(self, target: str, message: str, reason: str | None = None) -> None:
        super().__init__(f"{target}: {message}")
        self.target = target
        self.detail = message
        if reason is not None:
            self.reason = reason


class SnmpTimeout(SnmpFailure):
    reason = "timeout"


class MalformedResponse(SnmpFailure):
    reason = "malformed"


class SnmpErrorStatus(SnmpFailure):
    reason = "error-status"

    def __init__(self, target: str, status: int, index: int, oid: str | None) -> None:
        name = ERROR_STATUS_NAMES.get(status, "unknown")
        where = f"varbind {index} ({oid})" if oid else f"error-index {index}"
        super().__init__(target, f"agent answered {name} (error-status {status}) at {where}")
        self.status = status
        self.status_name = name
        self.index = index
        self.oid = oid


ERROR_STATUS_NAMES = {
    0: "noError", 1: "tooBig", 2: "noSuchName", 3: "badValue", 4: "readOnly", 5: "genErr", 6: "noAccess",
    7: "wrongType", 8: "wrongLength", 9: "wrongEncoding", 10: "wrongValue", 11: "noCreation",
    12: "inconsistentValue", 13: "resourceUnavailable", 14: "commitFailed", 15: "undoFailed",
    16: "authorizationError", 17: "notWritable", 18: "inconsistentName",
}
TOO_BIG = 1
MAX_OIDS_PER_GET = 60  # gosnmp's MaxOids; larger GETs risk tooBig on small agents


@dataclass(frozen=True, slots=True)
class V2cCredentials:
    community: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class V3Credentials:
    user: str
    auth_protocol: str  # NONE, MD5, SHA, SHA224, SHA256, SHA384, SHA512
    auth_key: str = field(repr=False)
    priv_protocol: str  # NONE, DES, 3DES, AES (=AES128), AES192, AES256 (Blumenthal), AES192C, AES256C (Reeder/Cisco)
    priv_key: str = field(repr=False)
    context: str = ""


@dataclass(frozen=True, slots=True)
class Target:
    host: str  # IPv4, IPv6 (e.g. "::1") or a name
    port: int = 161
    timeout: float = 2.0  # seconds per attempt
    retries: int = 1  # attempts after the first

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


class SnmpSession(Protocol):
    async def get(self, oids: Sequence[str]) -> dict[str, Value]:
        """Keys are the caller's OID strings; missing objects map to None."""
        ...

    async def walk_columns(
        self, columns: Sequence[str], max_repetitions: int = 25
    ) -> dict[str, list[tuple[str, Value]]]:
        """Keys are the caller's column strings; values are (index suffix, value) in OID order."""
        ...

    async def close(self) -> None: ...


class ColumnWalk:
    """Several columns walked in one GETBULK stream, the way net-snmp and snmp_exporter walk a table.

    Each request carries every unfinished column (``pending``); ``feed`` takes the response's varbinds, which
    repeat in request order. A column ends when an OID leaves its subtree or at endOfMibView. An OID that does
    not increase within a column raises MalformedResponse(reason="not-increasing") for the whole walk, as
    net-snmp and pysnmp do: keeping what was read before would hide a looping agent behind partial tables.
    """

    def __init__(self, columns: Sequence[str], target: str, max_varbinds: int = 1_000_000) -> None:
        names = list(dict.fromkeys(columns))
        self._target = target
        self._names = names
        self._raw = [ber.encode_oid(c) for c in names]
        self._last = [b""] * len(names)  # suffix of the last OID accepted per column
        self._rows: list[list[tuple[bytes, Value]]] = [[] for _ in names]
        self._active = list(range(len(names)))
        self._budget = max_varbinds  # bounds the walk of an agent that invents rows forever

    def pending(self) -> list[bytes]:
        return [self._raw[i] + self._last[i] for i in self._active]

    def feed(self, varbinds: Sequence[tuple[bytes, int, Value]]) -> None:
        active = self._active
        width = len(active)
        if not varbinds:
            raise MalformedResponse(self._target, f"GETBULK for {width} column(s) answered with no varbinds")
        self._budget -= len(varbinds)
        if self._budget < 0:
            raise MalformedResponse(self._target, "walk exceeded its varbind budget", reason="too-many-rows")
        still_active = []
        greater = ber.suffix_greater
        end_of_mib = ber.END_OF_MIB_VIEW
        # Column by column over strided slices: the repetitions of column j sit at j, j+width, j+2*width, ...
        for j, column in enumerate(active):
            prefix = self._raw[column]
            cut = len(prefix)
            previous = self._last[column]
            append = self._rows[column].append
            finished = False
            for oid, tag, value in varbinds[j::width]:
                if tag == end_of_mib or len(oid) <= cut or not oid.startswith(prefix):
                    finished = True
                    break
                suffix = oid[cut:]
                if not greater(suffix, previous):
                    raise MalformedResponse(
                        self._target,
                        f"OID not increasing in column {self._names[column]}: "
                        f"{ber.oid_to_str(oid)} after {ber.oid_to_str(prefix + previous)}",
                        reason="not-increasing",
                    )
                append((suffix, value))
                previous = suffix
            self._last[column] = previous
            if not finished:
                still_active.append(column)
        self._active = still_active

    def result(self) -> dict[str, list[tuple[str, Value]]]:
        # Every column of a table repeats the same index suffixes; convert each one once.
        text: dict[bytes, str] = {}
        out = {}
        for name, rows in zip(self._names, self._rows, strict=True):
            converted = []
            for suffix, value in rows:
                index = text.get(suffix)
                if index is None:
                    index = text[suffix] = ber.suffix_to_str(suffix)
                converted.append((index, value))
            out[name] = converted
        return out
