"""Pure: polled varbinds -> samples (snmp_exporter's pduToSamples, for our profiles)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from collectors.model import Sample, Tags
from collectors.snmp.profile import Column, Profile, Table
from collectors.snmp.rates import CounterMemory

MAX_LABEL_CHARS = 256
Walked = Mapping[str, Sequence[tuple[str, object]]]


def text_of(value: object) -> str:
    """Device strings are untrusted: decoded leniently and bounded; escaping is the sinks' job."""
    if isinstance(value, bytes):
        text = value.decode("utf-8", errors="replace")
    elif value is None:
        text = ""
    else:
        text = str(value)
    return text[:MAX_LABEL_CHARS]


def number_of(column: Column, value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value / 100.0 if column.type == "timeticks" else float(value)


def scalar_fields(profile: Profile, got: Mapping[str, object]) -> dict[str, float]:
    fields: dict[str, float] = {}
    for column in profile.scalars:
        number = number_of(column, got.get(column.oid))
        if number is not None:
            fields[column.name] = number
    return fields


def table_labels(table: Table, walked: Walked) -> dict[str, dict[str, str]]:
    """index -> {tag: text} from the string columns read on discovery."""
    rows: dict[str, dict[str, str]] = {}
    for tag, oid in table.labels.items():
        for index, value in walked.get(oid, ()):
            rows.setdefault(index, {})[tag] = text_of(value)
    return rows


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
    for column in table.columns:
        for index, value in walked.get(column.oid, ()):
            number = number_of(column, value)
            if number is None:
                continue
            fields = rows.setdefault(index, {})
            fields[column.name] = number
            bits = column.counter_bits
            if bits is not None and column.rate and isinstance(value, int):
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
        if extra:
            samples.append(Sample(f"{table.measurement}_info", _sorted({**tags, **extra}), {"info": 1.0}, time_ns))
    return samples


def _sorted(tags: Mapping[str, str]) -> Tags:
    return tuple(sorted(tags.items()))
