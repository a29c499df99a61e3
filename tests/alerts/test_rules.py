from pathlib import Path

import pytest

from alerts.rules import DEFAULT_RULES, RuleError, load_rules, parse_rules, seconds
from alerts.template import check_template, render

BASE = {"name": "cpu", "kind": "threshold", "measurement": "entity", "field": "cpu_percent", "value": 85,
        "severity": "major"}


def test_default_rules_load() -> None:
    rules = {r.name: r for r in load_rules([DEFAULT_RULES])}
    assert set(rules) == {"device_unreachable", "uplink_down", "uplink_utilisation_high", "interface_errors_rising",
                          "cpu_high", "memory_high", "config_backup_old", "poll_data_absent",
                          "compliance_high_failed", "link_forecast_saturation"}
    assert rules["uplink_utilisation_high"].relative_to == "link_bandwidth"
    assert rules["uplink_utilisation_high"].for_s == 600
    assert rules["config_backup_old"].value == 2 * 86400
    assert rules["device_unreachable"].also[0].measurement == "icmp"
    assert rules["compliance_high_failed"].measurement == "compliance_device"
    assert rules["compliance_high_failed"].repeat_s >= 365 * 86400  # said once, when it starts


@pytest.mark.parametrize(("change", "message"), [
    ({"severity": "urgent"}, "rule 'cpu': field severity: Input should be 'critical'"),
    ({"for": "5 minutes"}, "rule 'cpu': field for: Value error, '5 minutes' is not a duration"),
    ({"value": None}, "rule 'cpu': field rule: Value error, a threshold rule needs 'value'"),
    ({"kind": "rate"}, "a rate rule needs a positive 'window'"),
    ({"relative_to": "link_bandwidth"}, "needs 'on_link: true'"),
    ({"name": "area_outage"}, "rule 'area_outage': field rule: Value error, 'area_outage' is the engine's own"),
    ({"colour": "red"}, "field colour: Extra inputs are not permitted"),
    ({"annotations": {"summary": "{device.__class__}"}}, "field annotations: Value error, annotation 'summary': "
                                                          "placeholder {device.__class__} uses attribute"),
    ({"annotations": {"summary": "{labels[0]}"}}, "uses attribute or index access"),
    ({"annotations": {"summary": "{hostname}"}}, "unknown placeholder {hostname}"),
    ({"annotations": {"summary": "{device!r}"}}, "has a conversion"),
])
def test_errors_name_file_rule_and_field(change: dict[str, object], message: str) -> None:
    with pytest.raises(RuleError) as info:
        parse_rules({"rules": [{**BASE, **change}]}, "site.yaml")
    assert str(info.value).startswith("site.yaml: ")
    assert message in str(info.value)


def test_duplicate_names_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(RuleError, match="rule 'cpu': duplicate name"):
        parse_rules({"rules": [BASE, BASE]}, "x.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("rules: [\n")
    with pytest.raises(RuleError, match="broken.yaml: not valid YAML"):
        load_rules([broken])


def test_durations() -> None:
    assert [seconds(v) for v in (90, "30s", "5m", "4h", "2d")] == [90, 30, 300, 14400, 172800]


@pytest.mark.parametrize("hostile", ["{{7*7}}", "<script>alert(1)</script>", "$(reboot)", "a\nb\r\nc",
                                     "{device.__class__.__mro__}", "{value:>99999999}", "%s%n", "${IFS}"])
def test_hostile_values_stay_literal(hostile: str) -> None:
    template = "{device} on {interface}: {value:.1f}"
    check_template(template)
    assert render(template, {"device": hostile, "interface": hostile, "value": 2.25}) == f"{hostile} on {hostile}: 2.2"


def test_format_specs_are_plain_numbers_only() -> None:
    check_template("{value:,.0f} {threshold:.2f} {count}")
    for bad in ("{value:{count}}", "{value:>99999999}", "{value:x<5}"):
        with pytest.raises(ValueError):
            check_template(bad)
    assert render("{value:.1f}", {"value": "not a number"}) == "not a number"
