"""The rule pack (rules.yaml beside this module, or an operator's own), the operator's overrides and exemptions.

Validated once on load; a broken pack or exemption file is a `PackError` naming the file and the entry.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any, Literal

import yaml

from collectors.platforms import SSH_PLATFORMS
from yiwang.compliance.checks import CHECKS
from yiwang.compliance.model import Exemption, Severity

SHIPPED = Path(__file__).with_name("rules.yaml")
SEVERITIES: tuple[Severity, ...] = ("low", "medium", "high", "critical")
# The rules judged from yiwang's own data (yiwang.compliance.run): their `check` names.
DATA_CHECKS = ("config_backup_fresh", "uplink_capacity", "uplink_redundancy", "firmware_advisory")


class PackError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    clauses: tuple[str, ...]  # e.g. ("8.1.4.1c", "8.1.4.4c")
    clause_title: str  # the clauses' section titles in Chinese, e.g. "身份鉴别 · 入侵防范"
    severity: Severity
    title_zh: str
    title_en: str
    check: str  # the name of the function: CHECKS for `source: config`, the data rules' registry for `data`
    source: Literal["config", "data"] = "config"
    platforms: tuple[str, ...] = ()  # where the rule applies; elsewhere it is not-applicable
    parameters: Mapping[str, object] = field(default_factory=dict)
    remediation: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # per platform, {parameter} filled

    def fix(self, platform: str) -> tuple[str, ...]:
        return tuple(line.format(**self.parameters) for line in self.remediation.get(platform, ()))


@dataclass(frozen=True, slots=True)
class RuleSettings:
    """An operator's changes to the shipped pack."""

    disabled: frozenset[str] = frozenset()
    parameters: Mapping[str, Mapping[str, object]] = field(default_factory=dict)  # rule id -> name -> value
    exemptions: tuple[Exemption, ...] = ()


@dataclass(frozen=True, slots=True)
class RulePack:
    rules: tuple[Rule, ...]  # enabled rules only, in the pack's order
    exemptions: tuple[Exemption, ...] = ()

    def rule(self, rule_id: str) -> Rule:
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(rule_id)


def load_pack(path: Path | None = None, settings: RuleSettings | None = None) -> RulePack:
    """The pack at `path` (the shipped rules.yaml by default) with the operator's settings laid over it."""
    source = path or SHIPPED
    try:
        document = yaml.safe_load(source.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise PackError(f"{source}: {exc}") from None
    if not isinstance(document, dict) or not isinstance(document.get("rules"), list):
        raise PackError(f"{source}: expected a mapping with a list `rules`")
    titles = document.get("clauses") or {}
    rules = [_rule(source, index, entry, titles) for index, entry in enumerate(document["rules"], start=1)]
    ids = [rule.id for rule in rules]
    if len(set(ids)) != len(ids):
        raise PackError(f"{source}: a rule id is repeated: {sorted(i for i in ids if ids.count(i) > 1)[0]}")
    settings = settings or RuleSettings()
    for rule_id in [*settings.disabled, *settings.parameters]:
        if rule_id not in ids:
            raise PackError(f"settings name an unknown rule {rule_id!r} (the pack {source} has {', '.join(ids)})")
    for rule_id, values in settings.parameters.items():
        known = next(r for r in rules if r.id == rule_id).parameters
        for name in values:
            if name not in known:
                raise PackError(f"rule {rule_id} has no parameter {name!r} (it has {', '.join(known) or 'none'})")
    rules = [replace(r, parameters={**r.parameters, **settings.parameters.get(r.id, {})})
             for r in rules if r.id not in settings.disabled]
    return RulePack(tuple(rules), settings.exemptions)


def _rule(source: Path, index: int, entry: Any, titles: Mapping[str, str]) -> Rule:
    where = f"{source}: rule {index}"
    if not isinstance(entry, dict):
        raise PackError(f"{where}: expected a mapping")
    where = f"{source}: rule {index} ({entry.get('id', '?')})"
    try:
        clauses = tuple(str(c) for c in entry["clause"])
        title = entry["title"]
        rule = Rule(
            id=str(entry["id"]), clauses=clauses,
            clause_title=" · ".join(dict.fromkeys(titles[_section(c)] for c in clauses if _section(c) in titles)),
            severity=entry["severity"], title_zh=str(title["zh"]), title_en=str(title["en"]),
            check=str(entry["check"]), source=entry.get("source", "config"),
            platforms=tuple(entry.get("platforms", SSH_PLATFORMS)),
            parameters=dict(entry.get("parameters") or {}),
            remediation={str(p): tuple(str(line) for line in lines)
                         for p, lines in (entry.get("remediation") or {}).items()})
    except (KeyError, TypeError) as exc:
        raise PackError(f"{where}: missing or malformed {exc}") from None
    if rule.severity not in SEVERITIES:
        raise PackError(f"{where}: severity {rule.severity!r} is not one of {', '.join(SEVERITIES)}")
    if rule.source not in ("config", "data"):
        raise PackError(f"{where}: source {rule.source!r} is not config or data")
    if rule.source == "config" and rule.check not in CHECKS:
        raise PackError(f"{where}: no check named {rule.check!r}")
    if rule.source == "data" and rule.check not in DATA_CHECKS:
        raise PackError(f"{where}: no data check named {rule.check!r} (one of {', '.join(DATA_CHECKS)})")
    unknown = [p for p in [*rule.platforms, *rule.remediation] if p not in SSH_PLATFORMS]
    if unknown:
        raise PackError(f"{where}: unknown platform {unknown[0]!r}")
    try:
        for platform in rule.remediation:
            rule.fix(platform)
    except (KeyError, IndexError, ValueError) as exc:
        raise PackError(f"{where}: remediation names a parameter the rule lacks: {exc}") from None
    return rule


def _section(clause: str) -> str:
    """8.1.4.1c -> 8.1.4.1"""
    return clause.rstrip("abcdefghijklmnopqrstuvwxyz")


def load_exemptions(path: Path) -> tuple[Exemption, ...]:
    """A YAML list of {device | area, rule, reason, expires: YYYY-MM-DD, approved_by}. Expired entries are kept
    (they are history); `evaluate` applies only those whose `expires` is today or later."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise PackError(f"{path}: {exc}") from None
    if document is None:
        return ()
    if not isinstance(document, list):
        raise PackError(f"{path}: expected a list of exemptions")
    return tuple(exemption(entry, f"{path}: exemption {index}") for index, entry in enumerate(document, start=1))


def exemption(entry: object, where: str) -> Exemption:
    if not isinstance(entry, dict):
        raise PackError(f"{where}: expected a mapping")
    missing = [k for k in ("rule", "reason", "expires", "approved_by") if not entry.get(k)]
    if missing:
        raise PackError(f"{where}: missing {', '.join(missing)}")
    if ("device" in entry) == ("area" in entry):
        raise PackError(f"{where}: give exactly one of device or area")
    expires = entry["expires"]
    if isinstance(expires, str):
        try:
            expires = date.fromisoformat(expires)
        except ValueError:
            raise PackError(f"{where}: expires {expires!r} is not a date YYYY-MM-DD") from None
    if not isinstance(expires, date):
        raise PackError(f"{where}: expires {expires!r} is not a date YYYY-MM-DD")
    unknown = set(entry) - {"device", "area", "rule", "reason", "expires", "approved_by"}
    if unknown:
        raise PackError(f"{where}: unknown key {sorted(unknown)[0]!r}")
    return Exemption(rule=str(entry["rule"]), device=_text(entry.get("device")), area=_text(entry.get("area")),
                     reason=str(entry["reason"]), expires=expires, approved_by=str(entry["approved_by"]))


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def parse_exemptions(entries: Sequence[object], where: str) -> tuple[Exemption, ...]:
    """Exemptions given inline (e.g. in the settings file) rather than in a file of their own."""
    return tuple(exemption(entry, f"{where}: exemption {index}") for index, entry in enumerate(entries, start=1))
