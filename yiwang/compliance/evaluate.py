"""One device's configuration against a rule pack: a `DeviceReport`. Pure (today is an argument)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from yiwang.compliance.checks import CHECKS
from yiwang.compliance.model import DeviceReport, Exemption, RuleResult
from yiwang.compliance.pack import Rule, RulePack
from yiwang.compliance.parse import Config, ConfigUnreadable, parse


def evaluate(text: str, platform: str, pack: RulePack, *, device: str = "-", area_path: Sequence[str] = (),
             today: date) -> DeviceReport:
    """Every configuration rule of the pack (the data rules are judged elsewhere). An unreadable configuration makes
    every rule `error`; an active exemption for the device or any area on its path turns a failure into `exempt`."""
    rules = [rule for rule in pack.rules if rule.source == "config"]
    try:
        config: Config | None = parse(text, platform)
        unreadable = ""
    except ConfigUnreadable as exc:
        config, unreadable = None, str(exc)
    results = []
    for rule in rules:
        if config is None:
            results.append(RuleResult(rule.id, "error", severity=rule.severity, detail=unreadable))
            continue
        result = _judge(rule, config)
        results.append(exempted(result, pack.exemptions, device, area_path, today))
    return DeviceReport(device, platform, tuple(results))


def _judge(rule: Rule, config: Config) -> RuleResult:
    if config.platform not in rule.platforms:
        return RuleResult(rule.id, "not-applicable", severity=rule.severity,
                          detail=f"the rule is not checked on {config.platform}")
    try:
        finding = CHECKS[rule.check](config, rule.parameters)
    except (KeyError, TypeError, ValueError) as exc:  # a parameter of the wrong type, a pack naming a lost check
        return RuleResult(rule.id, "error", severity=rule.severity, detail=f"the check failed: {exc}")
    severity = finding.severity or rule.severity
    if finding.status == "fail":
        return RuleResult(rule.id, "fail", finding.evidence, rule.fix(config.platform), severity, finding.detail)
    return RuleResult(rule.id, finding.status, severity=severity, detail=finding.detail)


def exempted(result: RuleResult, exemptions: Sequence[Exemption], device: str, area_path: Sequence[str],
             today: date) -> RuleResult:
    """A failure turned `exempt` when an exemption for the device or an area on its path is active today."""
    exemption = _exemption(exemptions, result.rule, device, area_path, today)
    if result.status != "fail" or exemption is None:
        return result
    return RuleResult(result.rule, "exempt", result.evidence, severity=result.severity, detail=result.detail,
                      exemption=exemption)


def _exemption(exemptions: Sequence[Exemption], rule: str, device: str, area_path: Sequence[str],
               today: date) -> Exemption | None:
    for exemption in exemptions:
        if exemption.rule != rule or not exemption.active(today):
            continue
        if (exemption.device is not None and exemption.device == device) or (
                exemption.area is not None and exemption.area in area_path):
            return exemption
    return None
