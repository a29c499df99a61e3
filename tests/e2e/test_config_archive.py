"""SSH collection and the configuration archive against the lab's own SSH devices, through the CLI and the
running monitor: backup, a change on a device, a second backup, and a diff that shows exactly that change."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import yaml
from netmiko import ConnectHandler

from collectors.platforms import cli_of
from lab import lab_inventory_dir
from lab.ssh.faults import Faults, write_faults
from yiwang.assemble import assemble
from yiwang.config import load_settings


def _cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "yiwang", "config", *args, "-c", str(config)], capture_output=True,
                          text=True, timeout=300)


def _devices(lab_state: Path) -> dict[str, dict]:  # type: ignore[type-arg]
    documents = yaml.safe_load((lab_inventory_dir(lab_state) / "devices.yaml").read_text())["devices"]
    return {d["name"]: d for d in documents}


def test_backup_change_diff_and_a_dropped_session(lab_state: Path, tmp_path: Path) -> None:
    config = tmp_path / "yiwang.yaml"
    config.write_text(yaml.safe_dump({"state_dir": str(lab_state), "database_url": f"sqlite:///{tmp_path}/y.db"}))
    township = "hb.hg.huangzhou.t03"
    devices = {name: d for name, d in _devices(lab_state).items() if d["area"].startswith(township)}
    first = _cli(config, "backup", "--area", township)
    assert first.returncode == 0, first.stdout + first.stderr
    assert f"{len(devices)} devices: {len(devices)} backed up, {len(devices)} changed, 0 failed" in first.stdout

    name, device = sorted(devices.items())[4]
    cli = cli_of(device["platform"])
    login = ((lab_state / "lab") / "ssh.login").read_text().strip()
    connection = ConnectHandler(device_type=cli.netmiko_type, host=device["address"], port=device["ssh"]["port"],
                                username="lab", password=login, secret=login, fast_cli=True, global_cmd_verify=True)
    if cli.enable:
        connection.enable()
    output = connection.send_command(cli.show["interfaces"], use_textfsm=False)
    interface = next(line.split()[0] for line in output.splitlines() if "GigabitEthernet" in line)
    connection.send_config_set([cli.config_enter, f"interface {interface}", "description to-be-cut-over",
                                cli.config_leave], enter_config_mode=False, exit_config_mode=False,
                               read_timeout=10)
    connection.disconnect()
    time.sleep(1.1)  # the device's "last updated" stamp has one-second resolution: prove it is ignored

    # one other device drops the session mid-output during the second backup
    dropping = sorted(devices)[0] if sorted(devices)[0] != name else sorted(devices)[1]
    write_faults((lab_state / "lab") / "ssh", {dropping: Faults(drop=True)})
    time.sleep(1.5)  # the lab polls its fault file every second
    try:
        second = _cli(config, "backup", "--area", township)
    finally:
        write_faults((lab_state / "lab") / "ssh", {})
    assert second.returncode == 1  # one failed
    assert f"{len(devices)} devices: {len(devices) - 1} backed up, 1 changed, 1 failed" in second.stdout
    assert f"changed {name}" in second.stdout and f"failed {dropping}: dropped" in second.stdout

    versions = _cli(config, "versions", name).stdout.split("\n")
    newest, oldest = versions[0].split()[0], versions[1].split()[0]
    diff = _cli(config, "diff", name, oldest, newest).stdout
    changed = [line for line in diff.splitlines() if line[:1] in "+-" and not line.startswith(("+++", "---"))]
    # exactly the change: the interface's old description replaced by the new one, nothing volatile
    assert [line[0] for line in changed] == ["-", "+"], diff
    assert changed[0].lstrip("- ").startswith("description ") and changed[1] == "+ description to-be-cut-over"
    # the failed device keeps its one good version
    assert len([v for v in _cli(config, "versions", dropping).stdout.split("\n") if v.strip()]) == 1
    status = json.loads(_cli(config, "status", "--area", township, "--json").stdout)
    row = next(d for d in status["devices"] if d["device"] == dropping)
    assert row["last_reason"] == "dropped" and row["age_seconds"] is not None
    township_row = next(a for a in status["areas"] if a["area"] == township)
    assert township_row["devices"] == len(devices) and township_row["failing"] == 1 and township_row["never"] == 0


async def test_ssh_facts_flow_like_snmp_data(lab_state: Path, tmp_path: Path) -> None:
    config = tmp_path / "yiwang.yaml"
    config.write_text(yaml.safe_dump({"state_dir": str(lab_state), "database_url": f"sqlite:///{tmp_path}/y.db",
                                      "ssh": {"workers": 32}}))
    assembly = assemble(load_settings(config), workers=1)
    try:
        report = await assembly.monitor.cycle("ssh")
        assert report.devices == len(assembly.monitor.targets("ssh")) > 200 and report.failed == 0, report.failures[:3]
        target = assembly.monitor.targets("ssh")[7]
        samples = assembly.latest.device_samples(target.device)
        facts = next(s for s in samples if s.measurement == "device_facts")
        assert facts.tag("serial") and facts.tag("model")
        ssh = next(s for s in samples if s.measurement == "ssh_device")
        assert ssh.fields["interfaces_up"] > 0 and "arp_entries" in ssh.fields
        # the same sinks: the Prometheus view renders it with the area path
        assert b"yiwang_ssh_device_interfaces_up{" in assembly.latest.render({"county": "黄州区"})
    finally:
        await assembly.close()
