"""Every case folder under cases/<platform>/<case>: config.txt against the shipped pack, beside expected.json.

expected.json: {"today"?, "device"?, "area_path"?, "results": {rule: status | {"status", "evidence"?, "severity"?}}};
evidence is a list of line numbers, or "missing:<block header>" / "missing:null" for a missing setting. A case lists
the rules it is about (all 13 for the hardened, neglected, truncated and real cases). exemptions.yaml, when present,
is the operator's exemption file for the case.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from yiwang.compliance.evaluate import evaluate
from yiwang.compliance.model import Evidence, RuleResult
from yiwang.compliance.pack import RuleSettings, load_exemptions, load_pack

CASES = Path(__file__).parent / "cases"
FOLDERS = sorted(p for p in CASES.glob("*/*") if (p / "config.txt").is_file())


def _evidence(found: Evidence) -> int | str:
    return f"missing:{found.missing or 'null'}" if found.is_missing else found.line or 0


def _seen(result: RuleResult, wanted: str | dict[str, object]) -> str | dict[str, object]:
    if isinstance(wanted, str):
        return result.status
    seen: dict[str, object] = {"status": result.status}
    if "evidence" in wanted:
        seen["evidence"] = [_evidence(e) for e in result.evidence]
    if "severity" in wanted:
        seen["severity"] = result.severity
    return seen


@pytest.mark.parametrize("folder", FOLDERS, ids=[f"{p.parent.name}/{p.name}" for p in FOLDERS])
def test_case(folder: Path) -> None:
    expected = json.loads((folder / "expected.json").read_text(encoding="utf-8"))
    exemptions = load_exemptions(folder / "exemptions.yaml") if (folder / "exemptions.yaml").exists() else ()
    pack = load_pack(settings=RuleSettings(exemptions=exemptions))
    report = evaluate((folder / "config.txt").read_text(encoding="utf-8"), folder.parent.name, pack,
                      device=expected.get("device", folder.name), area_path=expected.get("area_path", ()),
                      today=date.fromisoformat(expected.get("today", "2026-11-30")))
    by_rule = {r.rule: r for r in report.results}
    assert len(by_rule) == 13
    seen = {rule: _seen(by_rule[rule], wanted) for rule, wanted in expected["results"].items()}
    assert seen == expected["results"]
    for result in report.results:  # a failure always says where and how to fix it
        if result.status == "fail":
            assert result.evidence and result.remediation
        if result.status == "error":
            assert result.detail and not result.evidence


def test_every_platform_has_the_required_cases() -> None:
    for platform in ("huawei_vrp", "hp_comware", "cisco_ios", "ruijie_os"):
        names = {p.name for p in (CASES / platform).iterdir()}
        assert {"hardened", "neglected", "vty-split", "negations-lookalikes", "local-first", "exemptions",
                "truncated"} <= names, platform
        assert any((CASES / platform / n / "SOURCE.md").exists() for n in names), f"{platform}: no outside config"
