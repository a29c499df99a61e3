"""Pure: polled varbinds -> samples (snmp_exporter's pduToSamples, for our profiles)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

from collectors.model import Sample, Tags
from collectors.snmp.ber import BadValue
from collectors.snmp.profile import Column, Profile, Table
from collectors.snmp.rates import CounterMemory

MAX_LABEL_CHARS = 256
Walked = Mapping[str, Sequence[tuple[str, object]]]


def text_of(value: object) -> str:
    """Device strings are untrusted: decoded leniently and bounded; escaping is the sinks' job.

    Windows agents end DisplayStrings with the C string's NUL; it is no part of the name."""
    if isinstance(value, bytes):
        text = value.decode("utf-8", errors="replace")
    elif value is None or type(value) is BadValue:  # an undecodable varbind names nothing
        text = ""
    else:
        text = str(value)
    return text.rstrip("\x00")[:MAX_LABEL_CHARS]


def number_of(column: Column, value: object) -> float | None:
    """None for a missing reading: no value, a BadValue, text, an `unknown` sentinel, a non-finite float."""
    if type(value) is float:  # Opaque float/double (laLoadFloat); a counter is never one
        return value / column.divide if math.isfinite(value) and column.type == "gauge" else None
    if type(value) is not int or (column.unknown and value in column.unknown):  # bool is no number here
        return None
    if column.type == "timeticks":
        return value / 100.0
    return value / column.divide if column.divide != 1.0 else float(value)


def bad_values(values: Iterable[object]) -> list[BadValue]:
    """The varbinds the decoder could not read; each counts as missing where it stands."""
    return [v for v in values if type(v) is BadValue]


def scalar_fields(profile: Profile, got: Mapping[str, object]) -> dict[str, float]:
    fields: dict[str, float] = {}
    for column in profile.scalars:
        number = number_of(column, got.get(column.oid))
        if number is not None:
            fields[column.name] = number
    return fields


def table_labels(table: Table, walked: Walked) -> dict[str, dict[str, str]]:
    """index -> {tag: text} from the string columns read on discovery; a tag takes its first non-empty column."""
    rows: dict[str, dict[str, str]] = {}
    for tag, oids in table.labels.items():
        for oid in oids:
            for index, value in walked.get(oid, ()):
                text = text_of(value)
                if text and tag not in rows.get(index, {}):
                    rows.setdefault(index, {})[tag] = text
    return rows


def row_indexes(table: Table, walked: Walked) -> set[str]:
    return {index for oid in table.walk_oids for index, _ in walked.get(oid, ())}


def fallback_plan(table: Table, walked: Walked) -> tuple[set[str], set[str]]:
    """From one walk: (fallback columns some row needs, columns with fallbacks that gave no row a value).

    A column that was not walked counts as giving nothing, so its fallback stays needed."""
    rows = row_indexes(table, walked)
    needed: set[str] = set()
    silent: set[str] = set()
    for column in table.columns:
        if column.fallback is None:
            continue
        unknown = column.unknown
        answered = {index for index, value in walked.get(column.oid, ())
                    if type(value) is int and not (unknown and value in unknown)}  # number_of, inlined: per row
        if not answered:
            silent.add(column.oid)
        if len(answered) < len(rows):  # answered is a subset of rows
            needed.add(column.fallback.oid)
    return needed, silent


def table_samples(
    table: Table,
    walked: Walked,
    labels: Mapping[str, Mapping[str, str]],
    base_tags: Mapping[str, str],
    time_ns: int,
    memory: CounterMemory,
) -> list[Sample]:
    """One sample per row; the first label (ifName, hrStorageDescr) names the row, the rest go to `<m>_info`.

    A column with a fallback takes, row by row, its own value or else the fallback's."""
    rows: dict[str, dict[str, float]] = {}
    widths: dict[str, int] = {}  # index -> the narrowest counter read among columns that have a fallback
    for column in table.columns:
        fallback = column.fallback
        answered = _fill(rows, widths, table, column, column, walked.get(column.oid, ()), None, time_ns, memory)
        if fallback is not None:
            _fill(rows, widths, table, column, fallback, walked.get(fallback.oid, ()), answered, time_ns, memory)
    identity_tag = next(iter(table.labels), None)
    samples: list[Sample] = []
    for index, fields in rows.items():
        for name, (a, b) in table.products.items():
            if a in fields and b in fields:
                fields[name] = fields[a] * fields[b]
        row_labels = labels.get(index, {})
        tags = dict(base_tags)
        tags[table.index_tag] = index
        if identity_tag is not None:
            tags[identity_tag] = row_labels.get(identity_tag) or index
        identity = _sorted(tags)
        samples.append(Sample(table.measurement, identity, fields, time_ns))
        extra = {k: v for k, v in row_labels.items() if k != identity_tag}
        if table.counters_tag and index in widths:
            extra[table.counters_tag] = str(widths[index])
        if extra:
            samples.append(Sample(f"{table.measurement}_info", _sorted({**tags, **extra}), {"info": 1.0}, time_ns))
    return samples


def _fill(rows: dict[str, dict[str, float]], widths: dict[str, int], table: Table, column: Column, source: Column,
          values: Sequence[tuple[str, object]], skip: set[str] | None, time_ns: int, memory: CounterMemory
          ) -> set[str]:
    """Puts `source`'s readings into `column`'s field of each row not in `skip`; returns the rows it filled."""
    filled: set[str] = set()
    bits = source.counter_bits
    rate = column.rate if bits is not None else None
    tracked = column.fallback is not None
    for index, value in values:
        if skip is not None and index in skip:
            continue
        number = number_of(source, value)
        if number is None:
            continue
        fields = rows.get(index)
        if fields is None:
            fields = rows[index] = {}
        fields[column.name] = number
        if tracked:
            filled.add(index)
            if bits is not None:
                widths[index] = min(widths.get(index, bits), bits)
        if rate and bits is not None and isinstance(value, int):
            per_second = memory.rate((table.measurement, index, column.name), value, time_ns, bits)
            if per_second is not None:
                fields[rate] = per_second * column.scale
    return filled


def _sorted(tags: Mapping[str, str]) -> Tags:
    return tuple(sorted(tags.items()))
