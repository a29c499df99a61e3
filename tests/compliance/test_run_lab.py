"""Compliance runs over the small lab's archive, through the command line: a township backed up, a run, one device
changed over SSH (an NTP server added), backed up and run again: the trend shows it fixed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from netmiko import ConnectHandler

from collectors.platforms import cli_of
from lab import lab_inventory_dir
from tests.e2e.conftest import lab_state  # noqa: F401 - the small lab, started once for the session
from yiwang.assemble import assemble
from yiwang.compliance.advisories import version_of
from yiwang.compliance.history import ComplianceHistory
from yiwang.config import load_settings
from yiwang.versions import VersionStore

pytestmark = pytest.mark.integration
TOWNSHIP = "hb.hg.huangzhou.t02"
NTP = {"vrp": "ntp-service unicast-server 10.0.0.1", "ios": "ntp server 10.0.0.1"}


def _yiwang(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "yiwang", *args, "-c", str(config)], capture_output=True, text=True,
                          timeout=120)


def test_backup_run_fix_over_ssh_and_the_trend_shows_it(lab_state: Path, tmp_path: Path) -> None:  # noqa: F811
    config = tmp_path / "yiwang.yaml"
    config.write_text(yaml.safe_dump({"state_dir": str(lab_state), "database_url": f"sqlite:///{tmp_path}/y.db",
                                      "audit": {"path": str(tmp_path / "audit.jsonl")}}))
    devices = {d["name"]: d for d in yaml.safe_load((lab_inventory_dir(lab_state) / "devices.yaml").read_text())[
        "devices"] if d["area"].startswith(TOWNSHIP) and d.get("ssh")}
    assert _yiwang(config, "config", "backup", "--area", TOWNSHIP).returncode == 0

    first = _yiwang(config, "check", "compliance", "--run-now", "--area", TOWNSHIP, "--json")
    assert first.returncode == 0, first.stderr
    reports = {r["device"]: r for r in json.loads(first.stdout)}
    assert set(reports) == set(devices)
    for report in reports.values():
        results = {r["rule"]: r for r in report["results"]}
        assert len(results) == 17 and report["platform"] == devices[report["device"]]["platform"]
        assert results["config-backup-fresh"]["status"] == "pass"
        assert results["firmware-advisory"]["status"] == "error"  # no advisory file configured
        assert not [r for r in results.values() if r.get("detail") == "no configuration in the archive"]
    failing_ntp = sorted(name for name, r in reports.items()
                         if any(x["rule"] == "ntp-server" and x["status"] == "fail" for x in r["results"]))
    assert failing_ntp, "the lab's township has no device without an NTP server to fix"

    name = failing_ntp[0]
    device = devices[name]
    cli = cli_of(device["platform"])
    login = (lab_state / "lab" / "ssh.login").read_text().strip()
    connection = ConnectHandler(device_type=cli.netmiko_type, host=device["address"], port=device["ssh"]["port"],
                                username="lab", password=login, secret=login, fast_cli=True, global_cmd_verify=True)
    if cli.enable:
        connection.enable()
    connection.send_config_set([cli.config_enter, NTP[cli.family], cli.config_leave], enter_config_mode=False,
                               exit_config_mode=False, read_timeout=10)
    connection.disconnect()
    assert _yiwang(config, "config", "backup", "--device", name).returncode == 0

    second = _yiwang(config, "check", "compliance", "--run-now", "--device", name, "--rule", "ntp-server", "--csv")
    assert second.returncode == 0, second.stderr
    rows = second.stdout.splitlines()
    assert rows[0].startswith("device,platform,area_path,rule,clause") and len(rows) == 2
    assert f"{name},{device['platform']}," in rows[1] and ",ntp-server,8.1.4.3b,安全审计,medium,pass," in rows[1]

    trend = _yiwang(config, "check", "trend", "--area", TOWNSHIP, "--json")
    changes = json.loads(trend.stdout)["changes"]
    assert {"device": name, "rule": "ntp-server"} in changes["fixed"] and changes["newly_failing"] == []
    table = _yiwang(config, "check", "trend", "--area", TOWNSHIP)
    assert "1 fixed" in table.stdout and name in table.stdout and "ntp-server" in table.stdout
    audit = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert [a["action"] for a in audit if a["action"] == "compliance.run"] == ["compliance.run"] * 2


async def test_the_run_after_a_backup_cycle_reads_the_versions_the_ssh_collector_read(
        lab_state: Path, tmp_path: Path) -> None:  # noqa: F811
    config = tmp_path / "yiwang.yaml"
    advisories = tmp_path / "advisories.yaml"
    config.write_text(yaml.safe_dump({"state_dir": str(lab_state), "database_url": f"sqlite:///{tmp_path}/y.db",
                                      "ssh": {"workers": 32}, "compliance": {"advisories": advisories.name}}))
    advisories.write_text("[]\n")
    assembly = assemble(load_settings(config), workers=1)
    try:
        assert (await assembly.monitor.cycle("ssh")).failed == 0
        name = assembly.monitor.targets("ssh")[3].device
        version, _ = version_of(assembly.latest.device_samples(name))
        platform = assembly.services.inventory.devices[name].platform
        assert version
        # the cycle's versions are in SQL too, for the runs from the command line
        assert VersionStore(assembly.services.store.engine).known()[name].version == version
        advisories.write_text(yaml.safe_dump([{"id": "lab-sa-1", "platform": platform, "severity": "critical",
                                               "title": "the lab's own", "affected": [{"version": version}]}]))
        backup = next(job for job in assembly.monitor.jobs if job.name == "backup")
        await backup.run()
        history = ComplianceHistory(assembly.services.store.engine)
        run = history.latest_run()
        assert run is not None and run.trigger == "backup" and run.devices > 200
        firmware = {r.device: r for r in history.results(rule="firmware-advisory")}
        assert firmware[name].status == "fail" and firmware[name].severity == "critical"
        assert "lab-sa-1" in firmware[name].detail
        assert {r.status for r in firmware.values()} <= {"pass", "fail"}  # every device's version was read
    finally:
        await assembly.close()
