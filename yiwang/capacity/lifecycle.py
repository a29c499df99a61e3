"""End-of-sale and end-of-life dates per model, from a YAML file the operator maintains.

The file is a list of entries:

    - platform: cisco_ios                  # as in collectors/platforms.py (a platform yiwang reads over SSH)
      model: ISR4331                       # as the SSH collector reads it from `show version` / `display version`;
                                           # a shell pattern ("S5735-L*") covers a family
      end_of_sale: 2023-05-08              # the vendor's end of sale (Huawei: EOM, end of marketing)
      end_of_life: 2028-05-31              # the vendor's end of support (Cisco: last date of support; Huawei: EOS)
      source: Cisco EoS/EoL notice …       # where the dates come from, so a reader can check them
      replacement: ISR1100-4G              # optional: the vendor's (or the programme's) successor

A broken file raises LifecycleFileError naming the file, the line, the entry and the field: a report built from a
half-read file would leave devices off the replacement list without saying so.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from collectors.platforms import SSH_PLATFORMS

FIELDS = ("platform", "model", "end_of_sale", "end_of_life", "source", "replacement")
PATTERN_CHARS = frozenset("*?[")


class _Loader(yaml.SafeLoader):
    """YAML without implicit timestamps: PyYAML turns `2028-13-01` into a ValueError with no line, and
    `2028-05-31 00:00` into a datetime; read as text, every date is checked here with its line."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regex) for tag, regex in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}


@dataclass(frozen=True, slots=True)
class Lifecycle:
    platform: str
    model: str  # the text or shell pattern of the file
    end_of_sale: date
    end_of_life: date
    source: str
    replacement: str | None = None

    @property
    def is_pattern(self) -> bool:
        return any(c in PATTERN_CHARS for c in self.model)

    def covers(self, platform: str, model: str) -> bool:
        if platform != self.platform or not model:
            return False
        if self.is_pattern:
            return fnmatch.fnmatchcase(model.upper(), self.model.upper())
        return model.upper() == self.model.upper()

    def as_json(self) -> dict[str, Any]:
        return {"platform": self.platform, "model": self.model, "end_of_sale": self.end_of_sale.isoformat(),
                "end_of_life": self.end_of_life.isoformat(), "source": self.source, "replacement": self.replacement}


class LifecycleFileError(ValueError):
    """`lifecycle.yaml:14: entry 3 (ISR4331): end_of_life: '2028-13-01' is not a date (YYYY-MM-DD)`."""

    def __init__(self, file: str, line: int | None, entry: str, field: str, message: str) -> None:
        where = f"{file}:{line}" if line is not None else file
        super().__init__(f"{where}: {entry}: {field}: {message}")
        self.file, self.line, self.entry, self.field, self.message = file, line, entry, field, message


def load_lifecycle(path: Path) -> tuple[Lifecycle, ...]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise LifecycleFileError(str(path), None, "file", "-", f"cannot be read: {exc.strerror or exc}") from None
    return parse_lifecycle(text, str(path))


def parse_lifecycle(text: str, file: str = "<lifecycle>") -> tuple[Lifecycle, ...]:
    """Every entry checked; the first broken one raises."""
    try:
        raw = yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader without timestamps
        lines = _lines(yaml.compose(text, Loader=_Loader))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise LifecycleFileError(file, line, "file", "-", f"not YAML: {getattr(exc, 'problem', None) or exc}"
                                 ) from None
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise LifecycleFileError(file, 1, "file", "-", "must be a list of entries")
    found: list[Lifecycle] = []
    seen: dict[tuple[str, str], int] = {}
    for index, entry in enumerate(raw, start=1):
        entry_line, field_lines = lines[index - 1] if index - 1 < len(lines) else (None, {})
        label = f"entry {index}"
        if isinstance(entry, Mapping) and isinstance(entry.get("model"), str):
            label += f" ({entry['model']})"
        lifecycle = _entry(entry, _Where(file, label, entry_line, field_lines))
        key = (lifecycle.platform, lifecycle.model.upper())
        if key in seen:
            raise LifecycleFileError(file, field_lines.get("model", entry_line), label, "model",
                                     f"{lifecycle.platform} {lifecycle.model!r} is already listed in entry "
                                     f"{seen[key]}")
        seen[key] = index
        found.append(lifecycle)
    return tuple(found)


def find(entries: Iterable[Lifecycle], platform: str, model: str) -> Lifecycle | None:
    """The entry of a model read from a device: an exact name wins over a pattern, then the file's order."""
    matching = [e for e in entries if e.covers(platform, model)]
    exact = [e for e in matching if not e.is_pattern]
    best = exact or matching
    return best[0] if best else None


@dataclass(frozen=True, slots=True)
class _Where:
    file: str
    label: str
    line: int | None
    fields: Mapping[str, int]

    def bad(self, field: str, message: str) -> LifecycleFileError:
        return LifecycleFileError(self.file, self.fields.get(field, self.line), self.label, field, message)


def _lines(document: yaml.Node | None) -> list[tuple[int, dict[str, int]]]:
    """Each entry's line and each of its fields' lines (1-based), from the composed node tree."""
    if not isinstance(document, yaml.SequenceNode):
        return []
    out: list[tuple[int, dict[str, int]]] = []
    for item in document.value:
        fields: dict[str, int] = {}
        if isinstance(item, yaml.MappingNode):
            for key, value in item.value:
                fields[str(key.value)] = value.start_mark.line + 1
        out.append((item.start_mark.line + 1, fields))
    return out


def _entry(entry: Any, where: _Where) -> Lifecycle:
    if not isinstance(entry, Mapping):
        raise where.bad("-", "must be a mapping")
    unknown = sorted(str(k) for k in entry if k not in FIELDS)
    if unknown:
        raise where.bad(unknown[0], f"unknown field (known: {', '.join(FIELDS)})")
    for name in ("platform", "model", "source"):
        if not isinstance(entry.get(name), str) or not entry[name].strip():
            raise where.bad(name, "is required (text)")
    platform = entry["platform"].strip()
    if platform not in SSH_PLATFORMS:
        raise where.bad("platform", f"{platform!r} is not one of {', '.join(SSH_PLATFORMS)}")
    replacement = entry.get("replacement")
    if replacement is not None and (not isinstance(replacement, str) or not replacement.strip()):
        raise where.bad("replacement", "must be a model name (text), or left out")
    end_of_sale = _date(entry, "end_of_sale", where)
    end_of_life = _date(entry, "end_of_life", where)
    if end_of_life < end_of_sale:
        raise where.bad("end_of_life", f"{end_of_life} is before end_of_sale {end_of_sale}")
    return Lifecycle(platform, entry["model"].strip(), end_of_sale, end_of_life, entry["source"].strip(),
                     replacement.strip() if replacement else None)


def _date(entry: Mapping[str, Any], name: str, where: _Where) -> date:
    value = entry.get(name)
    if value is None:
        raise where.bad(name, "is required (a date, YYYY-MM-DD)")
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise where.bad(name, f"{value!r} is not a date (YYYY-MM-DD)")
