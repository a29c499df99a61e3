from __future__ import annotations

import shutil
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import yaml

from alerts.export import export_prometheus, inhibit_rules, write_inhibit_rules, write_prometheus_rules
from alerts.rules import DEFAULT_RULES, load_rules, parse_rules
from inventory.model import Area, Device, Endpoint, Inventory, Level, Link
from lab.peers import alertmanager

PROMTOOL = shutil.which("promtool")
AMTOOL = shutil.which("amtool")


def city() -> Inventory:
    areas = [Area("p", "Zhejiang", Level.PROVINCE), Area("c", "Yiwu", Level.CITY, "p"),
             Area("k", "Huangzhou", Level.COUNTY, "c"), Area("t", "Xidong", Level.TOWNSHIP, "k"),
             Area("v", "Shangcun", Level.VILLAGE, "t")]
    devices = [Device("city-core", "huawei_vrp", "core", "c", "10.0.0.1"),
               Device("hz-agg", "huawei_vrp", "agg", "k", "10.1.0.1"),
               Device("xd-acc", "hp_comware", "access", "t", "10.2.0.1"),
               Device("sc-cpe", "ruijie_os", "cpe", "v", "10.3.0.1")]
    links = [Link("k", Endpoint("hz-agg", "Gi0/0/1"), Endpoint("city-core", "Gi1/0/1"), "telecom", 1000),
             Link("t", Endpoint("xd-acc", "Gi1/0/49"), Endpoint("hz-agg", "Gi0/0/2"), "telecom", 100),
             Link("v", Endpoint("sc-cpe", "Gi0/1"), Endpoint("xd-acc", "Gi1/0/1"), "unicom", 20)]
    return Inventory({a.id: a for a in areas}, {d.name: d for d in devices}, links)


@pytest.mark.skipif(PROMTOOL is None, reason="promtool not installed")
def test_promtool_accepts_the_exported_default_rules(tmp_path: Path) -> None:
    path = tmp_path / "yiwang.rules.yml"
    export = write_prometheus_rules(load_rules([DEFAULT_RULES]), path)
    assert set(export.skipped) == {"uplink_down", "uplink_utilisation_high"}
    assert "# skipped uplink_down" in path.read_text(encoding="utf-8")
    result = subprocess.run([str(PROMTOOL), "check", "rules", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.skipif(PROMTOOL is None, reason="promtool not installed")
def test_promtool_unit_test_fires_with_rendered_annotations(tmp_path: Path) -> None:
    rules = parse_rules({"rules": [
        {"name": "cpu_high", "kind": "threshold", "measurement": "entity", "field": "cpu_percent", "op": ">",
         "value": 85, "for": "2m", "severity": "major", "labels": {"team.noc": "yes"},
         "annotations": {"summary": "CPU of {device} at {value:.0f}% in {area_name}, limit {threshold}"}},
        {"name": "errors_rising", "kind": "rate", "measurement": "interface", "field": "in_errors_total",
         "op": ">", "value": 1, "window": "2m", "severity": "minor", "annotations": {"summary": "{interface}"}},
    ]})
    write_prometheus_rules(rules, tmp_path / "rules.yml")
    tests = {"rule_files": ["rules.yml"], "evaluation_interval": "1m", "tests": [{
        "interval": "1m",
        "input_series": [
            {"series": 'yiwang_entity_cpu_percent{device="core-1",county="Huangzhou",city="Yiwu"}',
             "values": "97x5"},
            {"series": 'yiwang_interface_in_errors_total{device="core-1",interface="Gi0/1"}',
             "values": "0+600x5"},
        ],
        "alert_rule_test": [
            {"eval_time": "4m", "alertname": "cpu_high", "exp_alerts": [{
                "exp_labels": {"severity": "major", "team_noc": "yes", "device": "core-1", "county": "Huangzhou",
                               "city": "Yiwu"},
                "exp_annotations": {"summary": "CPU of core-1 at 97% in Huangzhou, limit 85"}}]},
            {"eval_time": "4m", "alertname": "errors_rising", "exp_alerts": [{
                "exp_labels": {"severity": "minor", "device": "core-1", "interface": "Gi0/1"},
                "exp_annotations": {"summary": "Gi0/1",
                                    "yiwang_note": "rate() over the scraped counter; yiwang's engine uses its "
                                                   "own samples"}}]},
        ]}]}
    (tmp_path / "tests.yml").write_text(yaml.safe_dump(tests), encoding="utf-8")
    result = subprocess.run([str(PROMTOOL), "test", "rules", "tests.yml"], cwd=tmp_path, capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_hostile_names_cannot_break_out_of_promql() -> None:
    rules = parse_rules({"rules": [
        {"name": "odd", "kind": "threshold", "measurement": "entity", "field": "cpu_percent", "value": 1,
         "match": {"device": 'x"} or vector(1) #'}, "severity": "info"}]})
    [entry] = export_prometheus(rules).document["groups"][0]["rules"]
    assert entry["expr"] == r'(yiwang_entity_cpu_percent{device="x\"} or vector(1) #"} > 1)'


def test_inhibit_rules_follow_the_area_tree() -> None:
    found = inhibit_rules(city())
    county = next(r for r in found if 'county="Huangzhou"' in r["source_matchers"])
    assert county == {
        "source_matchers": ['alertname=~"uplink_down|device_unreachable"', 'device=~"hz\\\\-agg"',
                            'county="Huangzhou"'],
        "target_matchers": ['county="Huangzhou"'],
        "equal": ["province", "city", "county"],
    }
    assert len(found) == 4  # city (its own devices), county, township, village
    assert next(r for r in found if 'village="Shangcun"' in r["source_matchers"])["equal"][-1] == "village"


@pytest.mark.skipif(AMTOOL is None, reason="amtool not installed")
def test_amtool_accepts_the_inhibit_rules(tmp_path: Path) -> None:
    write_inhibit_rules(city(), tmp_path / "inhibit.yml")
    config = {"route": {"receiver": "blackhole"}, "receivers": [{"name": "blackhole"}],
              **yaml.safe_load((tmp_path / "inhibit.yml").read_text(encoding="utf-8"))}
    (tmp_path / "am.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
    result = subprocess.run([str(AMTOOL), "check-config", str(tmp_path / "am.yml")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def _alert(name: str, **labels: str) -> dict[str, object]:
    now = datetime.now(UTC)
    return {"labels": {"alertname": name, **labels}, "startsAt": now.isoformat(),
            "endsAt": (now + timedelta(hours=1)).isoformat()}


def test_alertmanager_inhibits_beneath_a_cut_off_county(tmp_path: Path) -> None:
    path_labels = {"province": "Zhejiang", "city": "Yiwu", "county": "Huangzhou"}
    with alertmanager(tmp_path, {"inhibit_rules": inhibit_rules(city())}) as url:
        status = httpx.get(f"{url}/api/v2/status").json()
        assert 'alertname=~"uplink_down|device_unreachable"' in status["config"]["original"]
        httpx.post(f"{url}/api/v2/alerts", json=[
            _alert("uplink_down", device="hz-agg", interface="Gi0/0/1", **path_labels),
            _alert("cpu_high", device="sc-cpe", township="Xidong", village="Shangcun", **path_labels),
            _alert("cpu_high", device="city-core", province="Zhejiang", city="Yiwu"),
        ]).raise_for_status()
        deadline = time.monotonic() + 10
        while True:
            alerts = {a["labels"]["device"]: a["status"] for a in httpx.get(f"{url}/api/v2/alerts").json()}
            if alerts.get("sc-cpe", {}).get("inhibitedBy") or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    assert alerts["sc-cpe"]["state"] == "suppressed" and alerts["sc-cpe"]["inhibitedBy"]
    assert alerts["hz-agg"]["state"] == "active"
    assert alerts["city-core"]["state"] == "active"
