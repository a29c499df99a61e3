"""Real SSH on loopback: the IPv6 and bandwidth changes pushed with netmiko as yiwang's change jobs will, the
devices' answers to lines they do not take, `ping ipv6` between two devices, and the faults of a change."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from netmiko import ConnectHandler, NetmikoTimeoutException, ReadTimeout

from collectors.platforms import SSH_PLATFORMS, cli_of
from lab.city import CityPlan
from lab.ssh.config import clean
from lab.ssh.faults import Faults
from lab.ssh.process import RunningSSHLab, running_lab
from tests.lab_ssh.measure_netmiko import TUNED_CONNECT

pytestmark = pytest.mark.integration

# What each platform is told for dual stack and a contracted rate on one port, and how its configuration shows it.
CHANGE = {
    "huawei_vrp": (["ipv6"], ["ipv6 enable", "ipv6 address 2001:db8:a::1 64", "ospfv3 1 area 0",
                              "qos lr outbound cir 100000"],
                   ["ipv6 address 2001:DB8:A::1/64", "ospfv3 1 area 0.0.0.0", "qos lr outbound cir 100000"]),
    "hp_comware": (["ospfv3 1", "router-id 10.9.0.1", "quit"],
                   ["ipv6 address 2001:db8:b::1/64", "ospfv3 1 area 0.0.0.0", "qos lr outbound cir 100000"],
                   ["ipv6 address 2001:DB8:B::1/64", "ospfv3 1 area 0.0.0.0", "router-id 10.9.0.1"]),
    "cisco_ios": (["ipv6 unicast-routing"], ["ipv6 address 2001:db8:c::1/64", "ipv6 enable", "ipv6 ospf 1 area 0",
                                             "bandwidth 100000"],
                  ["ipv6 address 2001:DB8:C::1/64", "ipv6 ospf 1 area 0", "bandwidth 100000"]),
    "ruijie_os": ([], ["ipv6 address 2001:db8:d::1/64", "ipv6 enable",
                       "rate-limit output 100000000 18750000 37500000 conform-action transmit exceed-action drop"],
                  ["ipv6 address 2001:DB8:D::1/64", "rate-limit output 100000000"]),
}
ERRORS = {"huawei_vrp": "Error: Unrecognized command found at '^' position.",
          "hp_comware": " % Unrecognized command found at '^' position.",
          "cisco_ios": "% Invalid input detected at '^' marker.",
          "ruijie_os": "% Invalid input detected at '^' marker."}


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSSHLab]:
    with running_lab(tmp_path_factory.mktemp("changelab"), ["--per-platform", "1"]) as running:
        yield running


def connect(lab: RunningSSHLab, plan: CityPlan, name: str, **extra: Any) -> Any:
    cli = cli_of(plan.device(name).platform)
    conn = ConnectHandler(device_type=cli.netmiko_type, host=lab.addresses[name][0], port=lab.port,
                          username=lab.username, password=lab.password, secret=lab.password,
                          **{**TUNED_CONNECT, **extra})
    if cli.enable:
        conn.enable()
    return conn


def push(conn: Any, platform: str, lines: list[str]) -> str:
    cli = cli_of(platform)
    return str(conn.send_config_set([cli.config_enter, *lines, cli.config_leave], enter_config_mode=False,
                                    exit_config_mode=False, read_timeout=10))


def device_of(lab: RunningSSHLab, plan: CityPlan, platform: str) -> str:
    return next(n for n in lab.addresses if plan.device(n).platform == platform and plan.device(n).address)


def up_port(plan: CityPlan, name: str, skip: int = 0) -> str:
    return [i.name for i in plan.device(name).interfaces if i.oper_up][skip]


@pytest.mark.parametrize("platform", SSH_PLATFORMS)
def test_the_change_is_taken_and_shown_and_a_bad_line_is_refused(lab: RunningSSHLab, small: CityPlan,
                                                                 platform: str) -> None:
    name = device_of(lab, small, platform)
    port = up_port(small, name)
    cli = cli_of(platform)
    conn = connect(lab, small, name)
    global_lines, port_lines, shown = CHANGE[platform]
    out = push(conn, platform, [*global_lines, f"interface {port}", *port_lines])
    assert "^" not in out, out
    running = conn.send_command(cli.config_command)
    assert all(line in running for line in shown), running
    brief = conn.send_command(cli.show["ipv6_interfaces"])
    assert shown[0].split()[2].split("/")[0] in brief.upper()

    refused = push(conn, platform, [f"interface {port}", "ipv6 adress 2001:db8:e::1/64"])
    assert ERRORS[platform] in refused and "\n" + " " * 10 in refused  # the caret line under the typed line
    assert conn.send_command(cli.config_command).split("\n")[4:] == running.split("\n")[4:]  # nothing changed
    conn.disconnect()


def test_ping_ipv6_answers_by_both_ends(lab: RunningSSHLab, small: CityPlan) -> None:
    vrp, ios = device_of(lab, small, "huawei_vrp"), device_of(lab, small, "cisco_ios")
    a, b = connect(lab, small, vrp), connect(lab, small, ios)
    subnet = f"2001:db8:{random.randint(0x100, 0xfff):x}"
    push(a, "huawei_vrp", ["ipv6", f"interface {up_port(small, vrp, 1)}", "ipv6 enable",
                           f"ipv6 address {subnet}::1/64"])
    alone = a.send_command(f"ping ipv6 {subnet}::2")
    assert "Request time out" in alone and "100.00% packet loss" in alone
    push(b, "cisco_ios", [f"interface {up_port(small, ios, 1)}", f"ipv6 address {subnet}::2/64"])
    both = a.send_command(f"ping ipv6 {subnet}::2")
    assert f"Reply from {subnet}::2" in both and " 0.00% packet loss" in both
    back = b.send_command(f"ping {subnet}::1")
    assert "!!!!!" in back and "Success rate is 100 percent (5/5)" in back
    push(b, "cisco_ios", [f"interface {up_port(small, ios, 1)}", "shutdown"])
    assert "Success rate is 0 percent (0/5)" in b.send_command(f"ping ipv6 {subnet}::1")
    assert "100.00% packet loss" in a.send_command(f"ping ipv6 {subnet}::2")
    push(b, "cisco_ios", [f"interface {up_port(small, ios, 1)}", "no shutdown"])
    a.disconnect()
    b.disconnect()


@pytest.fixture()
def faulty(tmp_path: Path, small: CityPlan) -> Iterator[tuple[RunningSSHLab, str]]:
    name = next(d.name for d in small.devices if d.platform == "hp_comware" and d.address)
    with running_lab(tmp_path, ["--devices", name]) as running:
        yield running, name


def test_reject_line_once_and_always(faulty: tuple[RunningSSHLab, str], small: CityPlan) -> None:
    lab, name = faulty
    port = up_port(small, name)
    conn = connect(lab, small, name)
    lab.set_faults({name: Faults(reject=("qos lr",))})
    first = push(conn, "hp_comware", [f"interface {port}", "qos lr outbound cir 20000"])
    assert ERRORS["hp_comware"] in first
    assert "qos lr" not in conn.send_command("display current-configuration")
    again = push(conn, "hp_comware", [f"interface {port}", "qos lr outbound cir 20000"])
    assert "%" not in again and "qos lr outbound cir 20000" in conn.send_command("display current-configuration")
    lab.set_faults({name: Faults(reject_always=("ipv6 address",))})
    for _ in range(2):
        assert ERRORS["hp_comware"] in push(conn, "hp_comware", [f"interface {port}", "ipv6 address 2001:db8::5/64"])
    assert "2001:DB8::5" not in conn.send_command("display current-configuration")
    conn.disconnect()


def test_drop_mid_change_once_or_always(faulty: tuple[RunningSSHLab, str], small: CityPlan) -> None:
    lab, name = faulty
    port = up_port(small, name)
    lab.set_faults({name: Faults(drop_after=2)})
    conn = connect(lab, small, name)
    with pytest.raises((ReadTimeout, OSError, EOFError)):
        push(conn, "hp_comware", [f"interface {port}", "description first", "description second"])
    fresh = connect(lab, small, name)  # a blip: the fault stands, the next session goes through
    running = fresh.send_command("display current-configuration")
    assert " description first" in running and "description second" not in running
    push(fresh, "hp_comware", [f"interface {port}", "description third", "description fourth"])
    assert " description fourth" in fresh.send_command("display current-configuration")
    lab.set_faults({name: Faults(drop_after=2, drop_always=True)})
    for _ in range(2):
        again = connect(lab, small, name)
        with pytest.raises((ReadTimeout, OSError, EOFError)):
            push(again, "hp_comware", [f"interface {port}", "description fifth"])
    lab.set_faults({})
    fresh.disconnect()


def test_lose_management_keeps_the_open_session_only(faulty: tuple[RunningSSHLab, str], small: CityPlan) -> None:
    """As on a real device: the address answers again once the change that cut it is undone, the fault standing."""
    lab, name = faulty
    port = up_port(small, name)
    before = connect(lab, small, name)  # opened before the change: the way back
    lab.set_faults({name: Faults(lose_management="f1")})
    connect(lab, small, name).disconnect()  # nothing changed yet: still reachable
    push(before, "hp_comware", [f"interface {port}", "description cut over"])
    started = time.monotonic()
    with pytest.raises((NetmikoTimeoutException, OSError)):
        connect(lab, small, name, conn_timeout=3)
    assert time.monotonic() - started < 10
    # The rollback through the old session: the port's description as it was.
    was = next(i.alias for i in small.device(name).interfaces if i.name == port)
    push(before, "hp_comware", [f"interface {port}", f"description {clean(was)}" if was else "undo description"])
    assert "cut over" not in before.send_command("display current-configuration")
    connect(lab, small, name).disconnect()
    push(before, "hp_comware", [f"interface {port}", "description cut over again"])  # the fault is still armed
    with pytest.raises((NetmikoTimeoutException, OSError)):
        connect(lab, small, name, conn_timeout=3)
    lab.set_faults({})
    connect(lab, small, name).disconnect()
    before.disconnect()


def test_lose_management_with_the_open_sessions(faulty: tuple[RunningSSHLab, str], small: CityPlan) -> None:
    lab, name = faulty
    port = up_port(small, name)
    typing, spare = connect(lab, small, name), connect(lab, small, name)
    lab.set_faults({name: Faults(lose_management="f2", lose_open=True)})
    with pytest.raises((ReadTimeout, OSError, EOFError)):
        push(typing, "hp_comware", [f"interface {port}", "description cut over"])
    with pytest.raises((ReadTimeout, OSError, EOFError)):
        spare.send_command("display current-configuration", read_timeout=5)
    with pytest.raises((NetmikoTimeoutException, OSError)):
        connect(lab, small, name, conn_timeout=3)
    lab.set_faults({})
    fresh = connect(lab, small, name)
    push(fresh, "hp_comware", [f"interface {port}", "undo description"])
    fresh.disconnect()
