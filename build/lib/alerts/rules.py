"""Alert rules as YAML data, validated once into frozen models; errors name the file, the rule and the field."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from alerts.template import check_template

Kind = Literal["threshold", "rate", "delta", "state", "absent"]
Op = Literal[">", ">=", "<", "<=", "==", "!="]
Severity = Literal["critical", "major", "minor", "warning", "info"]
SEVERITIES: tuple[str, ...] = ("critical", "major", "minor", "warning", "info")
# What an active alert of the rule says about the network, for the topology roll-up.
Topology = Literal["none", "device_down", "link_down"]

DEFAULT_RULES = Path(__file__).with_name("default_rules.yaml")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"^(\d+)([smhd])$")


class RuleError(ValueError):
    pass


def seconds(value: object) -> float:
    """`90`, `"30s"`, `"5m"`, `"4h"`, `"2d"` -> seconds."""
    if isinstance(value, bool):
        raise ValueError("a duration is a number of seconds or a string like '5m'")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError("a duration cannot be negative")
        return float(value)
    if isinstance(value, str) and (m := _DURATION.match(value.strip())):
        return float(int(m.group(1)) * _UNITS[m.group(2)])
    raise ValueError(f"{value!r} is not a duration like '30s', '5m', '4h' or '2d'")


def _as_fields(value: object) -> object:
    return (value,) if isinstance(value, str) else value


class Condition(BaseModel):
    """A further condition on the same group (e.g. the same device) that must also hold."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    measurement: str
    fields: tuple[str, ...] = Field(alias="field", min_length=1)
    match: dict[str, str] = Field(default_factory=dict)
    op: Op = "=="
    value: float
    # any: one matching sample suffices; all: every matching sample (e.g. both address families) must agree.
    quantifier: Literal["any", "all"] = "any"

    _fields = field_validator("fields", mode="before")(_as_fields)


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    kind: Kind
    measurement: str
    fields: tuple[str, ...] = Field(default=(), alias="field")
    match: dict[str, str] = Field(default_factory=dict)
    op: Op = ">"
    value: float | None = None
    for_s: float = Field(default=0.0, alias="for")
    window_s: float = Field(default=0.0, alias="window")
    repeat_s: float = Field(default=4 * 3600.0, alias="repeat")
    quantifier: Literal["any", "all"] = "any"
    # Only interfaces at either end of an inventory link; the alert is then one per link.
    on_link: bool = False
    # Compare against `value` x the link's contracted bandwidth (bits per second), not ifSpeed.
    relative_to: Literal["link_bandwidth"] | None = None
    group_by: tuple[str, ...] | None = None
    also: tuple[Condition, ...] = ()
    topology: Topology = "none"
    severity: Severity
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)

    _fields = field_validator("fields", mode="before")(_as_fields)

    @field_validator("for_s", "window_s", "repeat_s", mode="before")
    @classmethod
    def _duration(cls, value: object) -> float:
        return seconds(value)

    @field_validator("annotations")
    @classmethod
    def _templates(cls, value: dict[str, str]) -> dict[str, str]:
        for key, text in value.items():
            try:
                check_template(text)
            except ValueError as exc:
                raise ValueError(f"annotation {key!r}: {exc}") from None
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Rule:
        if self.name == "area_outage":
            raise ValueError("'area_outage' is the engine's own topology roll-up; choose another name")
        if self.kind != "absent" and not self.fields:
            raise ValueError(f"a {self.kind} rule needs 'field'")
        if self.kind != "absent" and self.value is None:
            raise ValueError(f"a {self.kind} rule needs 'value'")
        if self.kind in ("rate", "delta") and self.window_s <= 0:
            raise ValueError(f"a {self.kind} rule needs a positive 'window'")
        if self.kind in ("rate", "delta") and len(self.fields) != 1:
            raise ValueError(f"a {self.kind} rule takes exactly one 'field'")
        if self.kind == "absent" and self.for_s <= 0:
            raise ValueError("an absent rule needs 'for': how long without samples")
        if self.relative_to and not self.on_link:
            raise ValueError("'relative_to: link_bandwidth' needs 'on_link: true'")
        if self.also and self.group_by is None:
            raise ValueError("'also' needs 'group_by' so both conditions meet on the same labels")
        if self.topology == "device_down" and (self.group_by or ()) != ("device",):
            raise ValueError("a device_down rule must have 'group_by: [device]'")
        if self.topology == "link_down" and not self.on_link:
            raise ValueError("a link_down rule must have 'on_link: true'")
        return self


class RuleFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rules: list[dict[str, Any]]


def parse_rules(document: object, source: str = "<rules>") -> tuple[Rule, ...]:
    try:
        raw = RuleFile.model_validate(document).rules
    except ValidationError as exc:
        raise RuleError(f"{source}: {_describe(exc)}") from None
    rules: list[Rule] = []
    seen: set[str] = set()
    for position, entry in enumerate(raw):
        name = entry.get("name") or f"#{position + 1}"
        try:
            rule = Rule.model_validate(entry)
        except ValidationError as exc:
            raise RuleError(f"{source}: rule {name!r}: {_describe(exc)}") from None
        if rule.name in seen:
            raise RuleError(f"{source}: rule {name!r}: duplicate name")
        seen.add(rule.name)
        rules.append(rule)
    return tuple(rules)


def load_rules(paths: Iterable[Path] = (DEFAULT_RULES,)) -> tuple[Rule, ...]:
    rules: list[Rule] = []
    for path in paths:
        try:
            document = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise RuleError(f"{path}: not valid YAML: {exc}") from None
        rules.extend(parse_rules(document, str(path)))
    names = [r.name for r in rules]
    if len(names) != len(set(names)):
        dup = next(n for n in names if names.count(n) > 1)
        raise RuleError(f"rule {dup!r} is defined in more than one file")
    return tuple(rules)


def _describe(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"]) or "rule"
        parts.append(f"field {where}: {error['msg']}")
    return "; ".join(parts)
