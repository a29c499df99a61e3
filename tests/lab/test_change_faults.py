"""The faults of a change through `lab fault` / `lab clear` on the small lab: the device's CLI over real SSH, its
SNMP agent with net-snmp and its address with fping."""

from __future__ import annotations

import shutil
import subprocess
from typing import Any

import pytest
from netmiko import ConnectHandler

from collectors.platforms import cli_of
from lab import lab_clear, lab_fault, lab_status
from lab.export import SSH_USER
from lab.state import LabError

from .conftest import RunningLab
from .test_lab_integration import SYS_NAME, snmpget

pytestmark = pytest.mark.integration
DEVICE = "hg-huangzhou-t05-v002"


def connect(lab: RunningLab, name: str, **extra: Any) -> Any:
    device = lab.plan.device(name)
    cli = cli_of(device.platform)
    login = (lab.state_dir / "lab" / "ssh.login").read_text().strip()
    conn = ConnectHandler(device_type=cli.netmiko_type, host=device.host, port=lab.port, username=SSH_USER,
                          password=login, secret=login, fast_cli=True, global_cmd_verify=True,
                          **{"conn_timeout": 5, **extra})
    if cli.enable:
        conn.enable()
    return conn


def push(conn: Any, platform: str, lines: list[str]) -> str:
    cli = cli_of(platform)
    return str(conn.send_config_set([cli.config_enter, *lines, cli.config_leave], enter_config_mode=False,
                                    exit_config_mode=False, read_timeout=10))


def pings(lab: RunningLab, name: str) -> bool:
    done = subprocess.run(["fping", "-t", "300", "-r", "0", lab.plan.device(name).host], capture_output=True,
                          check=False)
    return done.returncode == 0


def test_lose_management_after_a_change_and_clear(running_lab: RunningLab) -> None:
    device = running_lab.plan.device(DEVICE)
    port = device.interfaces[0].name
    before = connect(running_lab, DEVICE)
    fault = lab_fault(running_lab.state_dir, "lose-management", DEVICE)
    try:
        assert snmpget(running_lab, DEVICE, SYS_NAME) == [f'"{DEVICE}"']  # nothing changed yet
        push(before, device.platform, [f"interface {port}", "description locked out"])
        with pytest.raises(TimeoutError):
            snmpget(running_lab, DEVICE, SYS_NAME)
        if shutil.which("fping") and fault.method == "cli":
            assert not pings(running_lab, DEVICE)
        with pytest.raises(Exception):  # noqa: B017 - refused or timed out, whichever the host's firewall gives
            connect(running_lab, DEVICE, conn_timeout=3)
        assert "description locked out" in before.send_command(cli_of(device.platform).config_command)
        assert [f.kind for f in lab_status(running_lab.state_dir).faults] == ["lose-management"]
    finally:
        lab_clear(running_lab.state_dir, fault.id)
    assert snmpget(running_lab, DEVICE, SYS_NAME) == [f'"{DEVICE}"']
    if shutil.which("fping"):
        assert pings(running_lab, DEVICE)
    connect(running_lab, DEVICE).disconnect()
    before.disconnect()


def test_reject_line_and_drop_mid_change_are_set_and_cleared(running_lab: RunningLab) -> None:
    name = "hg-huangzhou-t05-v003"
    device = running_lab.plan.device(name)
    port = device.interfaces[0].name
    refuse = lab_fault(running_lab.state_dir, "reject-line", name, match="description")
    assert "matching 'description' once" in refuse.describe()
    conn = connect(running_lab, name)
    refused = push(conn, device.platform, [f"interface {port}", "description one"])
    assert ("% Invalid input" in refused) or ("Unrecognized command" in refused)
    assert "% Invalid" not in push(conn, device.platform, [f"interface {port}", "description two"])
    lab_clear(running_lab.state_dir, refuse.id)
    drop = lab_fault(running_lab.state_dir, "drop-mid-change", name, after=1)
    with pytest.raises(Exception):  # noqa: B017 - netmiko reports the closed channel in several ways
        push(conn, device.platform, [f"interface {port}", "description three"])
    lab_clear(running_lab.state_dir, drop.id)
    again = connect(running_lab, name)
    assert "description three" not in again.send_command(cli_of(device.platform).config_command)
    again.disconnect()


@pytest.mark.parametrize(("kind", "options", "message"), [
    ("reject-line", {}, "needs --match"),
    ("drop-mid-change", {"after": 0}, "--after N"),
])
def test_change_faults_say_what_they_need(running_lab: RunningLab, kind: str, options: dict[str, Any],
                                         message: str) -> None:
    with pytest.raises(LabError, match=message):
        lab_fault(running_lab.state_dir, kind, DEVICE, **options)
    with pytest.raises(LabError, match="network device with a CLI"):
        lab_fault(running_lab.state_dir, "lose-management", "nowhere")
