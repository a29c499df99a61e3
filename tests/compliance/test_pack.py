"""The rule pack as data: what the shipped pack holds, operator overrides, exemptions and their errors."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import yaml

from yiwang.compliance.checks import CHECKS
from yiwang.compliance.evaluate import evaluate
from yiwang.compliance.model import Exemption
from yiwang.compliance.pack import DATA_CHECKS, PackError, RuleSettings, load_exemptions, load_pack

CASES = Path(__file__).parent / "cases"
CATALOGUE = ("pw-irreversible", "pw-policy", "login-lockout", "idle-timeout", "remote-mgmt-encrypted", "central-aaa",
             "no-default-account", "syslog-server", "ntp-server", "insecure-services-off", "mgmt-acl",
             "snmp-v3-priv-only", "snmp-traps-to-nms")
DATA_CATALOGUE = ("config-backup-fresh", "uplink-capacity", "uplink-redundancy", "firmware-advisory")
TODAY = date(2026, 11, 30)


def test_the_shipped_pack_holds_every_configuration_rule_of_the_catalogue() -> None:
    pack = load_pack()
    assert tuple(r.id for r in pack.rules if r.source == "config") == CATALOGUE
    assert tuple(r.id for r in pack.rules if r.source == "data") == DATA_CATALOGUE
    assert {r.check for r in pack.rules if r.source == "config"} == set(CHECKS)
    assert {r.check for r in pack.rules if r.source == "data"} == set(DATA_CHECKS)
    assert pack.rule("config-backup-fresh").clause_title == "数据备份恢复"
    for rule in (r for r in pack.rules if r.source == "config"):
        assert rule.title_zh and rule.title_en and rule.clause_title
        for platform in rule.platforms:
            assert rule.fix(platform), f"{rule.id}: no remediation for {platform}"
    assert pack.rule("login-lockout").platforms == ("huawei_vrp", "hp_comware", "cisco_ios")
    assert pack.rule("snmp-v3-priv-only").clause_title == "身份鉴别 · 入侵防范"
    assert pack.rule("idle-timeout").fix("huawei_vrp")[1] == " idle-timeout 10 0"


def test_a_disabled_rule_is_omitted_and_a_parameter_changes_the_verdict(tmp_path: Path) -> None:
    text = (CASES / "cisco_ios" / "vty-split" / "config.txt").read_text()
    strict = load_pack(settings=RuleSettings(disabled=frozenset({"ntp-server"}),
                                             parameters={"idle-timeout": {"max_minutes": 5}}))
    report = evaluate(text, "cisco_ios", strict, today=TODAY)
    by_rule = {r.rule: r for r in report.results}
    assert "ntp-server" not in by_rule and len(by_rule) == 12
    assert [e.line for e in by_rule["idle-timeout"].evidence] == [11, 14, 17]  # 10 minutes is now too long
    assert by_rule["idle-timeout"].remediation[1] == " exec-timeout 5 0"


def test_settings_naming_an_unknown_rule_or_parameter_are_refused() -> None:
    with pytest.raises(PackError, match="unknown rule 'ntp'"):
        load_pack(settings=RuleSettings(disabled=frozenset({"ntp"})))
    with pytest.raises(PackError, match="no parameter 'minutes'"):
        load_pack(settings=RuleSettings(parameters={"idle-timeout": {"minutes": 5}}))


def test_the_data_rules_are_left_to_the_run_and_an_unknown_data_check_is_refused(tmp_path: Path) -> None:
    pack = load_pack()
    report = evaluate((CASES / "cisco_ios" / "hardened" / "config.txt").read_text(), "cisco_ios", pack, today=TODAY)
    assert not set(DATA_CATALOGUE) & {r.rule for r in report.results}  # judged by yiwang.compliance.run
    document = yaml.safe_load((Path(__file__).parents[2] / "yiwang" / "compliance" / "rules.yaml").read_text())
    document["rules"][-1]["check"] = "backup_fresh"
    path = tmp_path / "pack.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True))
    with pytest.raises(PackError, match="no data check named 'backup_fresh'"):
        load_pack(path)


def test_a_broken_pack_names_the_file_and_the_rule(tmp_path: Path) -> None:
    path = tmp_path / "pack.yaml"
    path.write_text("rules:\n  - id: x\n    clause: [8.1.4.1a]\n    severity: urgent\n    title: {zh: 甲, en: a}\n"
                    "    check: pw_policy\n")
    with pytest.raises(PackError, match=r"pack\.yaml: rule 1 \(x\): severity 'urgent'"):
        load_pack(path)
    path.write_text("rules:\n  - id: x\n    clause: [8.1.4.1a]\n    severity: low\n    title: {zh: 甲, en: a}\n"
                    "    check: no_such_check\n")
    with pytest.raises(PackError, match="no check named 'no_such_check'"):
        load_pack(path)


def test_exemptions_load_and_a_broken_entry_names_file_and_entry(tmp_path: Path) -> None:
    loaded = load_exemptions(CASES / "huawei_vrp" / "exemptions" / "exemptions.yaml")
    reason = "console server only reaches it over telnet until the swap"
    assert loaded[0] == Exemption("remote-mgmt-encrypted", "vrp-old", None, reason, date(2026, 11, 29), "王工")
    path = tmp_path / "exemptions.yaml"
    for body, message in (
            ("- {device: a, rule: ntp-server, reason: r, approved_by: b}", "exemption 1: missing expires"),
            ("- {device: a, area: b, rule: ntp-server, reason: r, expires: 2027-01-01, approved_by: b}",
             "exemption 1: give exactly one of device or area"),
            ("- {device: a, rule: ntp-server, reason: r, expires: 2027-01-01, approved_by: b}\n"
             "- {device: a, rule: ntp-server, reason: r, expires: 'next year', approved_by: b}",
             "exemption 2: expires 'next year' is not a date"),
            ("device: a", "expected a list of exemptions")):
        path.write_text(body)
        with pytest.raises(PackError, match=f"{path.name}: {message}"):
            load_exemptions(path)


def test_an_exemption_covers_its_last_day_and_not_the_next() -> None:
    text = (CASES / "cisco_ios" / "neglected" / "config.txt").read_text()
    exemption = Exemption("ntp-server", None, "county-03", "rebuild", date(2026, 11, 30), "李科长")
    pack = load_pack(settings=RuleSettings(exemptions=(exemption,)))

    def status(day: date, area_path: tuple[str, ...]) -> str:
        report = evaluate(text, "cisco_ios", pack, device="r1", area_path=area_path, today=day)
        return next(r.status for r in report.results if r.rule == "ntp-server")

    assert status(date(2026, 11, 30), ("city", "county-03")) == "exempt"
    assert status(date(2026, 12, 1), ("city", "county-03")) == "fail"
    assert status(date(2026, 11, 30), ("city", "county-04")) == "fail"


def test_evidence_never_carries_a_secret() -> None:
    for platform, secrets in (("cisco_ios", ("cisco123", "0822455D0A16", "public", "private")),
                              ("hp_comware", ("$c$3$Qm1oK8rX", "h3c123", "public", "private")),
                              ("huawei_vrp", ("guest123", "%^%#Pr1vate%^%#")),
                              ("ruijie_os", ("06073a0e261b", "0 ruijie", "community ruijie"))):
        report = evaluate((CASES / platform / "neglected" / "config.txt").read_text(), platform, load_pack(),
                          today=TODAY)
        shown = " ".join(e.text or "" for r in report.results for e in r.evidence)
        assert "******" in shown
        for secret in secrets:
            assert secret not in shown, (platform, secret)


def test_an_unknown_platform_is_an_error_for_every_rule() -> None:
    report = evaluate("hostname x\nend\n", "juniper_junos", load_pack(), today=TODAY)
    assert {r.status for r in report.results} == {"error"}
    assert "unknown platform" in report.results[0].detail
