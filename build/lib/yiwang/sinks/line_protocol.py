"""Samples as InfluxDB line protocol: pure, cached, and on the hot path (~500k points per cycle).

Escaping follows influxdb_client.Point byte for byte (tag keys, tag values and field keys escape
',', '=' and ' '; the measurement escapes ',' and ' '; tags and fields sorted by key; floats without
a trailing '.0'; non-finite fields and empty tag keys or values left out), plus rules for what line
protocol cannot carry:

* A newline, tab or carriage return in a name or tag value is written as the two characters
  backslash + 'n' / 't' / 'r', as Point does. InfluxDB and VictoriaMetrics store those two
  characters, so the tag value "a<LF>b" reads back as the 4-character string "a\\nb" (and so
  collides with a value that really was "a\\nb"). It never splits the line.
* A backslash is literal in line protocol unless it stands before a character the parser treats
  specially. A backslash that would end up before an escaped character, before another backslash,
  or at the end of the token changes where the parser splits the line (a value ending in '\\'
  escapes the separator after it; "x\\,y=1" injects a tag) and InfluxDB keeps "\\\\" while
  VictoriaMetrics unescapes it. Such a backslash is replaced by '/'; every other one is kept.
  Point leaves these alone and emits lines that are rejected or parsed into other tags.
* Every field is written as a float, whatever its Python type, so a field never flips between
  integer and float (InfluxDB rejects that as a field type conflict). Integers above 2**53 lose
  precision, as they already do in the Sample model.
* A measurement that is empty or starts with '#' (a comment line, silently ignored by InfluxDB)
  raises ValueError.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple

from collectors.model import Sample, Tags

_KEY_BAD_BACKSLASH = re.compile(r"\\(?=[\\,= \n\t\r]|\Z)")
_MEASUREMENT_BAD_BACKSLASH = re.compile(r"\\(?=[\\, \n\t\r]|\Z)")


class _Fields(NamedTuple):
    """How to write one set of field names: values are fetched and formatted in C, not per field."""

    names: tuple[str, ...]  # sorted, as Point writes them
    fetch: Callable[[Mapping[str, float]], Any]
    text: bytes  # b"key1=%r,key2=%r"


# Series keys repeat every cycle, so their escaped prefix is built once. The bound only guards
# against churn (names changing every cycle); clearing is cheaper than keeping an LRU order.
_PREFIX_CACHE_MAX = 1 << 19
_prefixes: dict[tuple[str, Tags], bytes] = {}
_FIELDS_CACHE_MAX = 1 << 12
_fields: dict[tuple[str, ...], _Fields] = {}


def escape_key(text: str) -> str:
    """A tag key, tag value or field key."""
    if "\\" in text:
        text = _KEY_BAD_BACKSLASH.sub("/", text)
    # A chain of replace() is several times faster than str.translate on non-ASCII text.
    return (text.replace(",", r"\,").replace("=", r"\=").replace(" ", r"\ ")
            .replace("\n", r"\n").replace("\t", r"\t").replace("\r", r"\r"))


def escape_measurement(text: str) -> str:
    if not text or text[0] == "#":
        raise ValueError(f"measurement name {text!r} cannot be written as line protocol")
    if "\\" in text:
        text = _MEASUREMENT_BAD_BACKSLASH.sub("/", text)
    return text.replace(",", r"\,").replace(" ", r"\ ").replace("\n", r"\n").replace("\t", r"\t").replace("\r", r"\r")


def series_prefix(measurement: str, tags: Tags) -> str:
    """The measurement and tag set: everything before the first unescaped space."""
    parts = [escape_measurement(measurement)]
    # The last duplicate key wins and keys are sorted, as with Point's tag dict.
    for key, value in sorted(dict(tags).items()):
        key, value = str(key), str(value)
        if key and value:
            parts.append(f"{escape_key(key)}={escape_key(value)}")
    return ",".join(parts)


def _prefix(measurement: str, tags: Tags) -> bytes:
    if len(_prefixes) >= _PREFIX_CACHE_MAX:
        _prefixes.clear()
    text = series_prefix(measurement, tags).encode("utf-8", "replace")
    _prefixes[(measurement, tags)] = text
    return text


def _fields_for(names: tuple[str, ...]) -> _Fields:
    if len(_fields) >= _FIELDS_CACHE_MAX:
        _fields.clear()
    ordered = tuple(sorted(name for name in names if name != ""))
    fetch: Callable[[Mapping[str, float]], Any]
    if len(ordered) == 1:
        only = ordered[0]

        def fetch(fields: Mapping[str, float]) -> tuple[float]:
            return (fields[only],)
    else:
        fetch = operator.itemgetter(*ordered)
    text = ",".join(escape_key(str(name)).replace("%", "%%") + "=%r" for name in ordered)
    spec = _fields[names] = _Fields(ordered, fetch, text.encode("utf-8", "replace"))
    return spec


def format_float(value: float) -> str | None:
    """Point's text for a float; None for NaN and infinities, which line protocol cannot carry."""
    value = float(value)
    if not math.isfinite(value):
        return None
    text = repr(value)
    return text[:-2] if text.endswith(".0") else text


def _line(sample: Sample) -> bytes:
    measurement, tags, fields, time_ns = sample
    prefix = _prefixes.get((measurement, tags)) or _prefix(measurement, tags)
    names = tuple(fields)
    spec = _fields.get(names) or _fields_for(names)
    if not spec.names:
        return b""
    values = tuple(map(float, spec.fetch(fields)))
    total = sum(values)
    if total - total != 0.0:  # a NaN or an infinity somewhere (or a sum that overflowed): rare
        return _line_without_nonfinite(prefix, spec.names, values, int(time_ns))
    # repr() of a finite float ends in ".0" only for whole numbers, and a ',' inside a field key is
    # always escaped, so ".0," can only be the end of a whole-number value.
    body = (spec.text % values).replace(b".0,", b",")
    if body[-2:] == b".0":
        body = body[:-2]
    return b"%s %s %d" % (prefix, body, time_ns)


def _line_without_nonfinite(prefix: bytes, names: tuple[str, ...], values: tuple[float, ...], time_ns: int) -> bytes:
    parts = []
    for name, value in zip(names, values, strict=True):
        text = format_float(value)
        if text is not None:
            parts.append(f"{escape_key(str(name))}={text}")
    if not parts:
        return b""
    return b"%s %s %d" % (prefix, ",".join(parts).encode("utf-8", "replace"), time_ns)


def to_line(sample: Sample) -> str:
    """One line without the newline; "" when the sample has no writable field."""
    return _line(sample).decode("utf-8")


def encode_batch(samples: Iterable[Sample], rejected: list[tuple[Sample, str]] | None = None) -> bytes:
    """Newline-terminated UTF-8 lines; a lone surrogate becomes '?' instead of failing the batch.

    A sample that cannot be written (a string field, a '#' measurement) raises, unless `rejected`
    is given: then it is recorded there with the reason and left out, so one bad sample cannot
    hold up the batch it came in.
    """
    if rejected is None:
        lines = [line for line in map(_line, samples) if line]
    else:
        lines = []
        for sample in samples:
            try:
                line = _line(sample)
            except (ValueError, TypeError, KeyError) as exc:
                rejected.append((sample, f"{type(exc).__name__}: {exc}"))
                continue
            if line:
                lines.append(line)
    if not lines:
        return b""
    lines.append(b"")
    return b"\n".join(lines)
