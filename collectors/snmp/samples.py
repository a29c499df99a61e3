"""Pure: polled varbinds -> samples (snmp_exporter's pduToSamples, for our profiles)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from collectors.model import Sample, Tags
from collectors.snmp.profile import Column, Profile, Table
from collectors.snmp.rates import CounterMemory

MAX_LABEL_CHARS = 256
Walked = Mapping[str, Sequence[tuple[str, object]]]


def text_of(value: object) -> str:
    """Device strings are untrusted: decoded leniently and bounded; escaping is the sinks' job.

    Windows agents end DisplayStrings with the C string's NUL; it is no part of the name."""
    if isinstance(value, bytes):
        text = value.decode("utf-8", errors="replace")
    elif value is None:
        text = ""
    else:
        text = str(value)
    return text.rstrip("\x00")[:MAX_LABEL_CHARS]


def number_of(column: Column, value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int) or value in column.unknown:
        return None
    if column.type == "timeticks":
        return value / 100.0
    return value / column.divide if column.divide != 1.0 else float(value)


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
    return {index for oid in table.walk_oids() for index, _ in walked.get(oid, ())}


def fallback_plan(table: Table, walked: Walked) -> tuple[set[str], set[str]]:
    """From one walk: (fallback columns some row needs, columns with fallbacks that gave no row a value).

    A column that was not walked counts as giving nothing, so its fallback stays needed."""
    rows = row_indexes(table, walked)
    needed: set[str] = set()
    silent: set[str] = set()
    for column in table.columns:
        if column.fallback is None:
            continue
        answered = {index for index, value in walked.get(column.oid, ()) if number_of(column, value) is not None}
        if not answered:
            silent.add(column.oid)
        if rows - answered:
            needed.add(column.fallback.oid)
    return needed, silent


def _readings(column: Column, walked: Walked) -> Iterator[tuple[Column, str, object, float]]:
    """(column read, index, raw value, number) per row: the column's own value, else its fallback's."""
    answered = set()
    for index, value in walked.get(column.oid, ()):
        number = number_of(column, value)
        if number is not None:
            answered.add(index)
            yield column, index, value, number
    fallback = column.fallback
    if fallback is not None:
        for index, value in walked.get(fallback.oid, ()):
            number = number_of(fallback, value)
            if number is not None and index not in answered:
                yield fallback, index, value, number


def table_samples(
    table: Table,
    walked: Walked,
    labels: Mapping[str, Mapping[str, str]],
    base_tags: Mapping[str, str],
    time_ns: int,
    memory: CounterMemory,
) -> list[Sample]:
    """One sample per row; the first label (ifName, hrStorageDescr) names the row, the rest go to `<m>_info`."""
    rows: dict[str, dict[str, float]] = {}
    widths: dict[str, int] = {}  # index -> the narrowest counter read among columns that have a fallback
    for column in table.columns:
        for source, index, value, number in _readings(column, walked):
            fields = rows.setdefault(index, {})
            fields[column.name] = number
            bits = source.counter_bits
            if bits is None:
                continue
            if column.fallback is not None:
                widths[index] = min(widths.get(index, bits), bits)
            if column.rate and isinstance(value, int):
                per_second = memory.rate((table.measurement, index, column.name), value, time_ns, bits)
                if per_second is not None:
                    fields[column.rate] = per_second * column.scale
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


def _sorted(tags: Mapping[str, str]) -> Tags:
    return tuple(sorted(tags.items()))
