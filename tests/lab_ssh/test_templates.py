"""Every lab output that ntc-templates has a template for must parse with it."""

from __future__ import annotations

from dataclasses import replace

import pytest
from ntc_templates.parse import parse_output

from lab.city import CityPlan, DevicePlan
from lab.ssh.cli import CliState, handle, login
from lab.ssh.state import Registry
from tests.lab_ssh.conftest import NOW, first_device, fresh_memory

IPV6_SETUP = {
    "huawei_vrp": ["n", "system-view", "ipv6", "interface {port}", "ipv6 enable", "ipv6 address 2001:DB8::{host}/64",
                   "return"],
    "hp_comware": ["system-view", "interface {port}", "ipv6 address 2001:DB8::{host}/64", "return"],
    "cisco_ios": ["enable", "configure terminal", "interface {port}", "ipv6 address 2001:DB8::{host}/64", "end"],
}
# (platform, command, a column every row must fill)
TEMPLATED = [
    ("huawei_vrp", "display version", "model"),
    ("huawei_vrp", "display interface brief", "interface"),
    ("huawei_vrp", "display arp all", "mac_address"),
    ("huawei_vrp", "display ipv6 neighbors", "ipv6_address"),
    ("hp_comware", "display interface brief", "interface"),
    ("hp_comware", "display arp", "mac_address"),
    ("cisco_ios", "show version", "hostname"),
    ("cisco_ios", "show ip interface brief", "interface"),
    ("cisco_ios", "show interfaces status", "port"),
    ("cisco_ios", "show ipv6 interface brief", "interface"),
    ("cisco_ios", "show arp", "hardware_address"),
    ("cisco_ios", "show ipv6 neighbors", "address"),
    ("cisco_ios", "show running-config interface {port}", "interface"),
]


def addressed(device: DevicePlan, host: int) -> tuple[CliState, str]:
    port = next(i for i in device.interfaces if i.oper_up and i.if_type != 24).name
    state, _ = login(device, fresh_memory(device), NOW)
    for line in IPV6_SETUP[device.platform]:
        state, _ = handle(state, line.format(port=port, host=host), NOW)
    return state, port


def configured(plan: CityPlan, platform: str) -> tuple[CliState, str]:
    """The platform's first device with an address on an up port, and (for its neighbour table: a device learns
    a neighbour only when the other end speaks IPv6 too) a second device of the platform numbered on that link."""
    device = first_device(plan, platform)
    state, port = addressed(device, 1)
    other = next(d for d in plan.devices if d.platform == platform and d.name != device.name and d.address)
    peer, _ = addressed(other, 2)
    network = Registry()
    for one in (state, peer):
        network.update(one.plan, one.memory.running)
    return replace(state, network=network), port


def output_of(state: CliState, command: str) -> str:
    _, text = handle(state, command, NOW)
    return "\n".join(text.splitlines()[1:-1])  # drop the echo and the prompt, as netmiko does


@pytest.mark.parametrize(("platform", "command", "column"), TEMPLATED, ids=[f"{p}:{c}" for p, c, _ in TEMPLATED])
def test_parses_with_ntc_template(small: CityPlan, platform: str, command: str, column: str) -> None:
    state, port = configured(small, platform)
    command = command.format(port=port)
    rows = parse_output(platform=platform, command=command, data=output_of(state, command))
    assert rows, f"{command} parsed to nothing"
    assert all(row[column] for row in rows)


def test_parsed_values_follow_the_plan_and_config(small: CityPlan) -> None:
    state, port = configured(small, "cisco_ios")
    version = parse_output(platform="cisco_ios", command="show version", data=output_of(state, "show version"))[0]
    assert version["hostname"] == state.plan.sys_name
    assert version["hardware"] == [state.plan.model]
    v6 = parse_output(platform="cisco_ios", command="show ipv6 interface brief",
                      data=output_of(state, "show ipv6 interface brief"))
    assert "2001:DB8::1" in next(r for r in v6 if r["interface"] == port)["ipv6_address"]
    brief = parse_output(platform="huawei_vrp", command="display interface brief",
                         data=output_of(configured(small, "huawei_vrp")[0], "display interface brief"))
    assert [r["interface"] for r in brief] == [i.name for i in first_device(small, "huawei_vrp").interfaces] + ["NULL0"]
