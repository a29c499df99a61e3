"""SNMP profiles: what to poll, as YAML data with numeric OIDs (snmp_exporter's idea, without a MIB compiler)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
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
    scale: float = 1.0

    @property
    def counter_bits(self) -> int | None:
        return COUNTER_BITS.get(self.type)


@dataclass(frozen=True, slots=True)
class Table:
    measurement: str
    index_tag: str
    columns: tuple[Column, ...]
    # tag name -> string column OID, read on discovery
    labels: Mapping[str, str] = field(default_factory=dict)
    # derived field -> (column a, column b): a * b
    products: Mapping[str, tuple[str, str]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    measurement: str = "device"
    scalars: tuple[Column, ...] = ()
    facts: Mapping[str, str] = field(default_factory=dict)
    tables: tuple[Table, ...] = ()

    def walk_columns(self) -> list[str]:
        return [c.oid for t in self.tables for c in t.columns]

    def label_columns(self) -> list[str]:
        return [oid for t in self.tables for oid in t.labels.values()]


def _oid(value: Any, where: str) -> str:
    text = str(value).strip().lstrip(".")
    parts = text.split(".")
    if len(parts) < 2 or not all(p.isdigit() for p in parts):
        raise ProfileError(f"{where}: {value!r} is not a numeric OID")
    return text


def _column(name: str, spec: Any, where: str) -> Column:
    where = f"{where}.{name}"
    if not isinstance(spec, dict) or "oid" not in spec:
        raise ProfileError(f"{where}: must be a mapping with 'oid' and 'type'")
    kind = spec.get("type", "gauge")
    if kind not in COLUMN_TYPES:
        raise ProfileError(f"{where}.type: {kind!r} is not one of {COLUMN_TYPES}")
    rate = spec.get("rate")
    if rate is not None and kind not in COUNTER_BITS:
        raise ProfileError(f"{where}.rate: only counters have a rate")
    return Column(name, _oid(spec["oid"], f"{where}.oid"), kind, rate, float(spec.get("scale", 1.0)))


def _table(spec: Mapping[str, Any], where: str) -> Table:
    for key in ("measurement", "index_tag", "columns"):
        if key not in spec:
            raise ProfileError(f"{where}.{key}: is required")
    columns = tuple(_column(n, s, f"{where}.columns") for n, s in dict(spec["columns"]).items())
    names = {c.name for c in columns}
    labels = {str(tag): _oid(oid, f"{where}.labels.{tag}") for tag, oid in dict(spec.get("labels") or {}).items()}
    products: dict[str, tuple[str, str]] = {}
    for name, pair in dict(spec.get("products") or {}).items():
        if not (isinstance(pair, list) and len(pair) == 2 and set(pair) <= names):
            raise ProfileError(f"{where}.products.{name}: must name two columns of this table")
        products[str(name)] = (pair[0], pair[1])
    return Table(str(spec["measurement"]), str(spec["index_tag"]), columns, labels, products)


def parse_profile(document: Mapping[str, Any], where: str) -> Profile:
    if "name" not in document:
        raise ProfileError(f"{where}: 'name' is required")
    table_specs = list(document.get("tables") or [])
    if "columns" in document:  # shorthand for a profile of one table
        table_specs.append({k: document[k] for k in ("measurement", "index_tag", "columns", "labels", "products")
                            if k in document})
    measurement = str(document.get("measurement", "device"))
    scalars = tuple(_column(n, s, f"{where}.scalars") for n, s in dict(document.get("scalars") or {}).items())
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
