"""SNMP profiles: what to poll, as YAML data with numeric OIDs (snmp_exporter's idea, without a MIB compiler).

A column may name a `fallback` column read for the rows it leaves empty (ifHCInOctets, else ifInOctets), and a
label may list several columns, the first non-empty one naming the row (ifName, else ifDescr).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

BUILTIN_DIR = Path(__file__).with_name("profiles")
COLUMN_TYPES = ("gauge", "counter32", "counter64", "timeticks")
COUNTER_BITS = {"counter32": 32, "counter64": 64}


class ProfileError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    oid: str
    type: str
    rate: str | None = None
    scale: float = 1.0  # applied to the rate: octets/s * 8 = bits/s
    divide: float = 1.0  # applied to a gauge's value: ifSpeed's bits/s / 1e6 = Mb/s
    unknown: frozenset[int] = frozenset()  # values that mean "no reading" (ifSpeed 4294967295)
    fallback: Column | None = None  # read for the rows this column leaves without a value

    @property
    def counter_bits(self) -> int | None:
        return COUNTER_BITS.get(self.type)


@dataclass(frozen=True, slots=True)
class Table:
    measurement: str
    index_tag: str
    columns: tuple[Column, ...]
    # tag name -> string column OIDs, read on discovery; the first non-empty one gives the row's tag
    labels: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # derived field -> (column a, column b): a * b
    products: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    # info tag saying whether a row's counters came from the columns with fallbacks ("64") or the fallbacks ("32")
    counters_tag: str | None = None
    # every column a walk of this table may read: the columns, then their fallbacks
    walk_oids: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        oids = [c.oid for c in self.columns] + [c.fallback.oid for c in self.columns if c.fallback is not None]
        object.__setattr__(self, "walk_oids", tuple(dict.fromkeys(oids)))


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    measurement: str = "device"
    scalars: tuple[Column, ...] = ()
    facts: Mapping[str, str] = field(default_factory=dict)
    tables: tuple[Table, ...] = ()


def _oid(value: Any, where: str) -> str:
    text = str(value).strip().lstrip(".")
    parts = text.split(".")
    if len(parts) < 2 or not all(p.isdigit() for p in parts):
        raise ProfileError(f"{where}: {value!r} is not a numeric OID")
    return text


COLUMN_KEYS = {"oid", "type", "rate", "scale", "divide", "unknown", "fallback"}
FALLBACK_KEYS = {"oid", "type", "divide", "unknown"}  # name, rate and scale are the column's own


def _column(name: str, spec: Any, where: str, primary: Column | None = None) -> Column:
    where = f"{where}.{name}" if primary is None else f"{where}.fallback"
    if not isinstance(spec, dict) or "oid" not in spec:
        raise ProfileError(f"{where}: must be a mapping with 'oid' and 'type'")
    unexpected = set(spec) - (COLUMN_KEYS if primary is None else FALLBACK_KEYS)
    if unexpected:
        raise ProfileError(f"{where}: unknown key(s) {sorted(unexpected)}")
    kind = spec.get("type", "gauge")
    if kind not in COLUMN_TYPES:
        raise ProfileError(f"{where}.type: {kind!r} is not one of {COLUMN_TYPES}")
    rate = spec.get("rate") if primary is None else primary.rate
    if rate is not None and kind not in COUNTER_BITS:
        raise ProfileError(f"{where}.rate: only counters have a rate")
    if primary is not None and (kind in COUNTER_BITS) != (primary.type in COUNTER_BITS):
        raise ProfileError(f"{where}.type: a counter's fallback is a counter, a gauge's a gauge")
    divide = float(spec.get("divide", 1.0))
    if divide != 1.0 and (kind in COUNTER_BITS or divide <= 0):
        raise ProfileError(f"{where}.divide: only a gauge's value is divided, by a positive number")
    unknown = spec.get("unknown", [])
    if not isinstance(unknown, list) or not all(isinstance(u, int) for u in unknown):
        raise ProfileError(f"{where}.unknown: must be a list of integers")
    column = Column(name, _oid(spec["oid"], f"{where}.oid"), kind, rate,
                    primary.scale if primary is not None else float(spec.get("scale", 1.0)), divide, frozenset(unknown))
    if primary is None and spec.get("fallback") is not None:
        column = replace(column, fallback=_column(name, spec["fallback"], where, column))
    return column


def _label(tag: str, spec: Any, where: str) -> tuple[str, ...]:
    oids = spec if isinstance(spec, list) else [spec]
    if not oids:
        raise ProfileError(f"{where}.labels.{tag}: names no column")
    return tuple(_oid(oid, f"{where}.labels.{tag}") for oid in oids)


TABLE_KEYS = ("measurement", "index_tag", "columns", "labels", "products", "counters_tag")


def _table(spec: Mapping[str, Any], where: str) -> Table:
    for key in ("measurement", "index_tag", "columns"):
        if key not in spec:
            raise ProfileError(f"{where}.{key}: is required")
    columns = tuple(_column(n, s, f"{where}.columns") for n, s in dict(spec["columns"]).items())
    names = {c.name for c in columns}
    labels = {str(tag): _label(str(tag), oids, where) for tag, oids in dict(spec.get("labels") or {}).items()}
    products: dict[str, tuple[str, str]] = {}
    for name, pair in dict(spec.get("products") or {}).items():
        if not (isinstance(pair, list) and len(pair) == 2 and set(pair) <= names):
            raise ProfileError(f"{where}.products.{name}: must name two columns of this table")
        products[str(name)] = (pair[0], pair[1])
    counters_tag = spec.get("counters_tag")
    return Table(str(spec["measurement"]), str(spec["index_tag"]), columns, labels, products,
                 str(counters_tag) if counters_tag else None)


def parse_profile(document: Mapping[str, Any], where: str) -> Profile:
    if "name" not in document:
        raise ProfileError(f"{where}: 'name' is required")
    table_specs = list(document.get("tables") or [])
    if "columns" in document:  # shorthand for a profile of one table
        table_specs.append({k: document[k] for k in TABLE_KEYS if k in document})
    measurement = str(document.get("measurement", "device"))
    scalars = tuple(_column(n, s, f"{where}.scalars") for n, s in dict(document.get("scalars") or {}).items())
    if any(c.fallback is not None for c in scalars):
        raise ProfileError(f"{where}.scalars: only table columns have fallbacks")
    facts = {str(k): _oid(v, f"{where}.facts.{k}") for k, v in dict(document.get("facts") or {}).items()}
    tables = tuple(_table(spec, f"{where}.tables[{i}]") for i, spec in enumerate(table_specs))
    return Profile(str(document["name"]), measurement, scalars, facts, tables)


def load_profiles(*dirs: Path) -> dict[str, Profile]:
    profiles: dict[str, Profile] = {}
    for directory in (BUILTIN_DIR, *dirs):
        for file in sorted(directory.glob("*.yaml")):
            try:
                document = yaml.safe_load(file.read_text(encoding="utf-8"))
            except yaml.YAMLError as exc:
                raise ProfileError(f"{file}: not valid YAML: {exc}") from None
            if not isinstance(document, dict):
                raise ProfileError(f"{file}: must be a mapping")
            profile = parse_profile(document, str(file))
            profiles[profile.name] = profile
    return profiles
