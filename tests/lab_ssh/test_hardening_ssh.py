"""Real SSH on loopback: the lab's devices serve the configuration of their hardening level, and a fix an engineer
types is taken and makes the rule pass when the configuration is read again."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from netmiko import ConnectHandler

from collectors.platforms import SSH_PLATFORMS, cli_of
from lab.city import CityPlan, DevicePlan
from lab.ssh.process import RunningSSHLab, running_lab
from lab.ssh.secure import LOGHOST, security_sections
from tests.lab_ssh.measure_netmiko import TUNED_CONNECT
from yiwang.compliance.evaluate import evaluate
from yiwang.compliance.pack import load_pack

pytestmark = pytest.mark.integration
COMMUNITY = "lab-community-9c1d"
RULE = "syslog-server"
FIX = {"huawei_vrp": f"info-center loghost {LOGHOST}", "hp_comware": f"info-center loghost {LOGHOST}",
       "cisco_ios": f"logging host {LOGHOST}", "ruijie_os": f"logging server {LOGHOST}"}


def chosen(plan: CityPlan) -> dict[str, DevicePlan]:
    """Per platform, the first device that keeps a v2c community and has no log server."""
    found: dict[str, DevicePlan] = {}
    for device in plan.devices:
        if device.platform in SSH_PLATFORMS and device.platform not in found and device.hardening.breaks(RULE) \
                and device.hardening.breaks("snmp-v3-priv-only") \
                and any("community" in head for head, _ in security_sections(device, COMMUNITY)):
            found[device.platform] = device
    return found


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory, small: CityPlan) -> Iterator[RunningSSHLab]:
    state = tmp_path_factory.mktemp("hardened-lab")
    (state / "community").write_text(COMMUNITY + "\n")
    names = ",".join(d.name for d in chosen(small).values())
    with running_lab(state, ["--devices", names, "--community-file", str(state / "community")]) as running:
        yield running


def running_config(lab: RunningSSHLab, device: DevicePlan) -> str:
    cli = cli_of(device.platform)
    conn: Any = ConnectHandler(device_type=cli.netmiko_type, host=lab.addresses[device.name][0], port=lab.port,
                               username=lab.username, password=lab.password, secret=lab.password, **TUNED_CONNECT)
    try:
        if cli.enable:
            conn.enable()
        return str(conn.send_command(cli.config_command, read_timeout=20))
    finally:
        conn.disconnect()


def status(text: str, device: DevicePlan, rule: str) -> str:
    report = evaluate(text, device.platform, load_pack(), device=device.name, today=date(2026, 11, 27))
    return next(r.status for r in report.results if r.rule == rule)


@pytest.mark.parametrize("platform", SSH_PLATFORMS)
def test_the_device_serves_its_profile_and_takes_the_fix(lab: RunningSSHLab, small: CityPlan, platform: str) -> None:
    device = chosen(small)[platform]
    before = running_config(lab, device)
    for head, body in security_sections(device, COMMUNITY):
        assert head in before, head
        assert all(line in before for line in body), head
    assert COMMUNITY in before  # the community the lab's agents answer, not another
    assert status(before, device, RULE) == "fail"

    cli = cli_of(device.platform)
    conn: Any = ConnectHandler(device_type=cli.netmiko_type, host=lab.addresses[device.name][0], port=lab.port,
                               username=lab.username, password=lab.password, secret=lab.password, **TUNED_CONNECT)
    if cli.enable:
        conn.enable()
    answer = conn.send_config_set([cli.config_enter, FIX[platform], cli.config_leave], enter_config_mode=False,
                                  exit_config_mode=False, read_timeout=10)
    conn.disconnect()
    assert "Error" not in answer and "% Invalid" not in answer, answer

    after = running_config(lab, device)
    assert status(after, device, RULE) == "pass"
    others = {r.rule: r.status for r in evaluate(before, platform, load_pack(), today=date(2026, 11, 27)).results}
    again = {r.rule: r.status for r in evaluate(after, platform, load_pack(), today=date(2026, 11, 27)).results}
    assert {k: v for k, v in again.items() if k != RULE} == {k: v for k, v in others.items() if k != RULE}
