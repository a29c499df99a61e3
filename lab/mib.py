"""One device's data in memory, as the lab's responder serves it: the `.snmprec` records in OID order, static
values encoded once, counters and gauges computed at request time.

Pure: parsing depends only on the text (and, for snmpsim's `numeric` without `atime`, the responder's start).
Devices of one model share their OID layout (`Shape`), so the city's ~950,000 records cost one list of
per-device values each, not one OID key each.

Record syntax (snmpsim's): `OID|TAG|VALUE`, TAG an ASN.1 tag number (2 INTEGER, 4 OCTET STRING, 5 NULL, 6 OBJECT
IDENTIFIER, 64 IpAddress, 65 Counter32, 66 Gauge32, 67 TimeTicks, 68 Opaque, 70 Counter64), `x` after it for a
hex value, `:ramp` (lab.ramp) or `:numeric` (the subset of snmpsim's module the lab uses) for computed values.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from collectors.snmp import ber
from lab.ramp import MODULUS, parse_spec

Key = tuple[int, ...]

TAGS = {
    "2": ber.INTEGER, "4": ber.OCTET_STRING, "5": ber.NULL, "6": ber.OBJECT_IDENTIFIER, "64": ber.IP_ADDRESS,
    "65": ber.COUNTER32, "66": ber.GAUGE32, "67": ber.TIMETICKS, "68": ber.OPAQUE, "70": ber.COUNTER64,
}
_UNSIGNED = (ber.COUNTER32, ber.GAUGE32, ber.TIMETICKS, ber.COUNTER64)


class Cell(Protocol):
    """A value computed when asked: `encode(now)` is the whole VarBind."""

    tag: int

    def encode(self, now: float) -> bytes: ...


def key_of(raw: bytes) -> Key:
    """OID order for encoded OIDs: the tuple of sub-identifiers (bytes order is wrong for multi-byte arcs)."""
    return tuple(raw) if raw.isascii() else tuple(ber.decode_arcs(raw))


def varbind(oid_tlv: bytes, tag: int, content: bytes) -> bytes:
    n = len(content)
    size = len(oid_tlv) + 2 + n
    if size < 0x80:
        return bytes((ber.SEQUENCE, size)) + oid_tlv + bytes((tag, n)) + content
    return ber.encode_tlv(ber.SEQUENCE, oid_tlv + ber.encode_tlv(tag, content))


def _content(tag: int, value: int) -> bytes:
    # As ber.encode_value: a leading zero keeps unsigned values with the top bit set positive.
    return value.to_bytes(value.bit_length() // 8 + 1, "big", signed=tag == ber.INTEGER)


class RampCell:
    __slots__ = ("base", "heads", "modulus", "rate", "t0", "tag")

    def __init__(self, heads: tuple[bytes, ...], tag: int, base: int, rate: float, t0: float, modulus: int) -> None:
        self.heads, self.tag, self.base, self.rate, self.t0, self.modulus = heads, tag, base, rate, t0, modulus

    def encode(self, now: float) -> bytes:
        value = self.base + int(self.rate * (now - self.t0)) if now > self.t0 else self.base
        value %= self.modulus
        content = value.to_bytes((value.bit_length() >> 3) + 1, "big")
        return self.heads[len(content)] + content


def heads(oid_tlv: bytes, tag: int) -> tuple[bytes, ...]:
    """VarBind bytes up to the value's content, by content length (0 to 9 octets: a Counter64 and its zero)."""
    return tuple(varbind(oid_tlv, tag, bytes(n))[:-n or None] for n in range(10))


class NumericCell:
    """snmpsim's `numeric` without `cumulative` and `deviation`: f(t * rate) * scale + offset + initial, held
    within [min, max] (or wrapped), t the absolute time with `atime`, else seconds since the responder started."""

    __slots__ = ("function", "initial", "lower", "oid_tlv", "origin", "rate", "scale", "offset", "tag", "upper",
                 "wrap")

    def __init__(self, oid_tlv: bytes, tag: int, spec: str, booted: float) -> None:
        settings = dict(part.split("=", 1) for part in spec.split(","))
        function = settings.pop("function", None)
        numbers = {k: float(v) for k, v in settings.items()}
        unknown = set(numbers) - {"rate", "scale", "offset", "initial", "min", "max", "atime", "wrap"}
        if unknown:
            raise ValueError(f"numeric options {sorted(unknown)} are not supported")
        self.oid_tlv, self.tag = oid_tlv, tag
        self.rate = numbers.get("rate", 1.0)
        self.scale = numbers.get("scale", 1.0)
        self.offset = numbers.get("offset", 0.0)
        self.lower = numbers.get("min", 0.0)
        self.upper = numbers.get("max", float(2**64 - 1 if tag == ber.COUNTER64 else 2**32 - 1))
        self.initial = numbers.get("initial", self.lower)
        self.origin = 0.0 if "atime" in numbers else booted
        self.wrap = "wrap" in numbers
        self.function = _function(function)

    def encode(self, now: float) -> bytes:
        value = self.function((now - self.origin) * self.rate) * self.scale + self.offset + self.initial
        if value < self.lower:
            value = self.lower
        elif value > self.upper:
            value = value % self.upper + self.lower if self.wrap else self.upper
        number = int(value)
        if self.tag == ber.INTEGER:
            number = max(-(2**31), min(number, 2**31 - 1))
        return varbind(self.oid_tlv, self.tag, _content(self.tag, number))


def _function(text: str | None) -> Callable[[float], float]:
    if text is None:
        return float
    name, _, argument = text.partition("%")
    if name not in ("sin", "cos") or argument != "<time>":
        raise ValueError(f"numeric function {text!r} is not supported (sin%<time> or cos%<time>)")
    function: Callable[[float], float] = getattr(math, name)
    return function


@dataclass(frozen=True, slots=True, eq=False)
class Shape:
    """An OID layout: keys in OID order, their encodings, and the object types (a key without its last arc)."""

    keys: tuple[Key, ...]
    oids: tuple[bytes, ...]
    object_types: frozenset[Key]

    def object_type_of(self, key: Key) -> bool:
        """Whether `key` lies under an object type this device has: a missing instance rather than a missing
        object (RFC 3416 4.2.1). Exact for scalars and single-arc table indexes, which is all the lab serves."""
        types = self.object_types
        return any(key[:n] in types for n in range(len(key), 0, -1))


@dataclass(frozen=True, slots=True, eq=False)
class Mib:
    shape: Shape
    cells: tuple[bytes | Cell, ...]  # a whole encoded VarBind, or a value computed at request time
    tags: bytes  # the BER tag of each value

    def __len__(self) -> int:
        return len(self.cells)

    def find(self, key: Key) -> int:
        """Position of `key`, or -1."""
        keys = self.shape.keys
        i = bisect_left(keys, key)
        return i if i < len(keys) and keys[i] == key else -1


class Interner:
    """What devices share: OID encodings, layouts and identical static varbinds. One per responder process."""

    def __init__(self, booted: float) -> None:
        self.booted = booted
        self._oids: dict[str, tuple[Key, bytes, bytes]] = {}
        self._shapes: dict[tuple[Key, ...], Shape] = {}
        self._static: dict[bytes, bytes] = {}
        self._heads: dict[tuple[bytes, int], tuple[bytes, ...]] = {}
        self.lines: dict[str, tuple[Key, bytes, bytes | Cell, int]] = {}

    def oid(self, text: str) -> tuple[Key, bytes, bytes]:
        got = self._oids.get(text)
        if got is None:
            raw = ber.encode_oid(text)
            got = self._oids[text] = (key_of(raw), raw, ber.encode_tlv(ber.OBJECT_IDENTIFIER, raw))
        return got

    def shape(self, keys: tuple[Key, ...], oids: tuple[bytes, ...]) -> Shape:
        got = self._shapes.get(keys)
        if got is None:
            got = self._shapes[keys] = Shape(keys, oids, frozenset(k[:-1] for k in keys))
        return got

    def heads(self, oid_tlv: bytes, tag: int) -> tuple[bytes, ...]:
        got = self._heads.get((oid_tlv, tag))
        if got is None:
            got = self._heads[oid_tlv, tag] = heads(oid_tlv, tag)
        return got

    def static(self, encoded: bytes) -> bytes:
        return self._static.setdefault(encoded, encoded)


def parse_snmprec(text: str, interner: Interner) -> Mib:
    """Raises ValueError with the line number on anything it cannot serve."""
    rows: list[tuple[Key, bytes, bytes | Cell, int]] = []
    static = interner.lines
    for number, line in enumerate(text.splitlines(), 1):
        row = static.get(line)
        if row is None:
            if not line.strip():
                continue
            try:
                oid, tag, value = line.split("|", 2)
                key, raw, oid_tlv = interner.oid(oid)
                cell, ber_tag = _cell(oid_tlv, tag, value, interner)
            except ValueError as exc:
                raise ValueError(f"line {number}: {exc}") from None
            row = (key, raw, cell, ber_tag)
            if cell.__class__ is bytes:
                static[line] = row  # the same line in another device's file: one lookup
        rows.append(row)
    if any(rows[i][0] >= rows[i + 1][0] for i in range(len(rows) - 1)):
        rows.sort(key=lambda row: row[0])
        for i in range(len(rows) - 1):
            if rows[i][0] == rows[i + 1][0]:
                raise ValueError(f"OID {ber.oid_to_str(rows[i][1])} appears twice")
    shape = interner.shape(tuple(r[0] for r in rows), tuple(r[1] for r in rows))
    return Mib(shape, tuple(r[2] for r in rows), bytes(r[3] for r in rows))


def _cell(oid_tlv: bytes, tag_text: str, value: str, interner: Interner) -> tuple[bytes | Cell, int]:
    base, _, module = tag_text.partition(":")
    hex_value = base.endswith("x")
    tag = TAGS.get(base[:-1] if hex_value else base)
    if tag is None:
        raise ValueError(f"unknown type {tag_text!r}")
    if module == "ramp":
        if tag not in _UNSIGNED:
            raise ValueError(f"ramp needs a counter, gauge or timeticks type, not {tag_text!r}")
        ramp = parse_spec(value)
        return RampCell(interner.heads(oid_tlv, tag), tag, ramp.base, ramp.rate, ramp.t0, MODULUS[base]), tag
    if module == "numeric":
        if tag not in (ber.INTEGER, *_UNSIGNED):
            raise ValueError(f"numeric needs a number type, not {tag_text!r}")
        return NumericCell(oid_tlv, tag, value, interner.booted), tag
    if module:
        raise ValueError(f"variation module {module!r} is not supported")
    return interner.static(varbind(oid_tlv, tag, _static_content(tag, value, hex_value))), tag


def _static_content(tag: int, value: str, hex_value: bool) -> bytes:
    if hex_value:
        if tag not in (ber.OCTET_STRING, ber.OPAQUE, ber.IP_ADDRESS):
            raise ValueError(f"a hex value for type 0x{tag:02x}")
        return bytes.fromhex(value)
    if tag in (ber.OCTET_STRING, ber.OPAQUE):
        return value.encode("utf-8")
    if tag == ber.NULL:
        return b""
    # Range and form checks are ber's; the tag and length it adds are dropped again.
    encoded = ber.encode_value(tag, int(value) if tag in (ber.INTEGER, *_UNSIGNED) else value)
    return encoded[2:] if encoded[1] < 0x80 else encoded[2 + (encoded[1] & 0x7F):]
