"""The plan (yiwang.push.plan) on real configurations: hier_config's own fixtures (Comware, IOS; MIT, see
cases/hier_config/LICENSE), VRP lines from hier_config's VRP tests, and the lab's rendered configurations of every
platform, with the plan typed into the lab's CLI state machine (the same code that answers over SSH)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from collectors.platforms import SSH_PLATFORMS, cli_of
from lab.city import CityPlan, DevicePlan, generate_city
from lab.ssh.cli import CliState, handle, login
from lab.ssh.config import initial_config, render
from lab.ssh.server import pick
from lab.ssh.state import DeviceMemory
from yiwang.push.plan import (
    PlanError,
    as_printed,
    dump,
    hide_secrets,
    plan_change,
    read_config,
    rejection,
    snippet,
    typed,
    way_back,
)

CASES = Path(__file__).parent / "cases" / "hier_config"
NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(("platform", "prefix"), [("hp_comware", "comware5"), ("cisco_ios", "ios")])
def test_hier_config_fixtures_round_trip(platform: str, prefix: str) -> None:
    """Laying the fixture's remediation over its running config gives its generated config, and laying our
    rollback over that gives the running config back."""
    running = (CASES / f"{prefix}_running.conf").read_text()
    generated = read_config(platform, (CASES / f"{prefix}_generated.conf").read_text())
    remediation = dump(read_config(platform, running).config_to_get_to(generated))
    plan = plan_change(platform, running, remediation)
    assert plan.changed
    assert sorted(plan.after.splitlines()) == sorted(hide_secrets("\n".join(dump(generated))).splitlines())
    again = plan_change(platform, running, remediation)
    assert again.commands == plan.commands  # deterministic
    back = plan_change(platform, "\n".join(dump(read_config(platform, running).future(
        read_config(platform, "\n".join(plan.commands))))), plan.rollback)
    assert sorted(back.after.splitlines()) == sorted(hide_secrets("\n".join(dump(read_config(platform, running))))
                                                     .splitlines())


def test_a_changed_value_is_one_line_each_way() -> None:
    running = (CASES / "comware5_running.conf").read_text()
    plan = plan_change("hp_comware", running, ["description WAN"], ["interface GigabitEthernet1/0/1"])
    assert plan.commands == ("interface GigabitEthernet1/0/1", "  description WAN")
    assert plan.rollback == ("interface GigabitEthernet1/0/1", "  description WAN Interface")
    assert typed("hp_comware", plan.commands) == ("interface GigabitEthernet1/0/1", "description WAN")


VRP_RUNNING = """!Software Version V800R011C10SPC100
#
sysname hb-pe01
#
snmp-agent community read cipher %^%#blabla%^%# acl 2000
#
acl number 2000
 rule 5 remark some old remark
 rule 10 permit source 10.0.0.0 0.255.255.255
#
interface GigabitEthernet0/0/0
 description some old blabla
 ip address 10.1.1.1 255.255.255.252
#
interface GigabitEthernet0/0/1
 shutdown
#
return
"""


def test_vrp_lines_from_hier_config_tests() -> None:
    plan = plan_change("huawei_vrp", VRP_RUNNING, ["undo description", "ip address 10.1.1.5 255.255.255.252"],
                       ["interface GigabitEthernet0/0/0"])
    assert plan.commands == ("interface GigabitEthernet0/0/0", "  undo description",
                             "  ip address 10.1.1.5 255.255.255.252")
    assert plan.rollback == ("interface GigabitEthernet0/0/0", "  description some old blabla",
                             "  ip address 10.1.1.1 255.255.255.252")
    # A second address is not a new value of the first.
    sub = plan_change("huawei_vrp", VRP_RUNNING, ["ip address 10.9.9.9 255.255.255.0 sub"],
                      ["interface GigabitEthernet0/0/0"])
    assert sub.rollback == ("interface GigabitEthernet0/0/0", "  undo ip address 10.9.9.9 255.255.255.0 sub")
    remark = plan_change("huawei_vrp", VRP_RUNNING, ["undo rule 5 remark"], ["acl number 2000"])
    assert remark.commands == ("acl number 2000", "  undo rule 5 remark")
    # The device's community is in the diff with its value hidden, whatever the change.
    assert "snmp-agent community <hidden>" in plan.before
    assert "%^%#blabla" not in plan.before + plan.after


def test_negating_what_the_device_lacks_changes_nothing() -> None:
    up = plan_change("huawei_vrp", VRP_RUNNING, ["undo shutdown"], ["interface GigabitEthernet0/0/0"])
    assert not up.changed and up.rollback == ()
    down = plan_change("huawei_vrp", VRP_RUNNING, ["undo shutdown"], ["interface GigabitEthernet0/0/1"])
    assert down.commands == ("interface GigabitEthernet0/0/1", "  undo shutdown")
    assert down.rollback == ("interface GigabitEthernet0/0/1", "  shutdown")


def test_typed_leaves_each_section_before_the_next() -> None:
    lines = ("interface A", "  description a", "ospf 1", "  area 0", "    network 10.0.0.0 0.0.0.255", "sysname x")
    assert typed("huawei_vrp", lines) == ("interface A", "description a", "quit", "ospf 1", "area 0",
                                          "network 10.0.0.0 0.0.0.255", "quit", "quit", "sysname x")
    assert typed("cisco_ios", ("interface A", "  no shutdown", "interface B", "  shutdown")) == (
        "interface A", "no shutdown", "exit", "interface B", "shutdown")


@pytest.mark.parametrize(("output", "words"), [
    ("         ^\nError: Unrecognized command found at '^' position.\n[pe01]", "Error: Unrecognized command found"),
    ("  ^\n % Wrong parameter found at '^' position.\n[agg01-GigabitEthernet1/0/1]", "% Wrong parameter found"),
    ("   ^\n% Invalid input detected at '^' marker.\n\nr1(config)#", "% Invalid input detected"),
    ("% Incomplete command.\n\nr1(config)#", "% Incomplete command."),
    ("% Ambiguous command:  \"ip a\"\nr1(config)#", "% Ambiguous command"),
    ("\n[pe01-GigabitEthernet0/0/1]", None),
    ("Info: The configuration takes effect.\n[pe01]", None),
])
def test_rejection_reads_every_platforms_error(output: str, words: str | None) -> None:
    found = rejection(output)
    assert (found is None) if words is None else (found is not None and found.startswith(words))


def test_bad_lines_are_refused_before_anything() -> None:
    with pytest.raises(PlanError, match="line break"):
        snippet(["description a\nsysname evil"])
    with pytest.raises(PlanError, match="no configuration driver"):
        plan_change("linux", "", ["x"])


@pytest.fixture(scope="module")
def city() -> CityPlan:
    return generate_city(2026, "small")


def device_of(city: CityPlan, platform: str) -> DevicePlan:
    return next(d for d in pick(city.devices, [], 1) if d.platform == platform and d.address)


def type_into(state: CliState, lines: tuple[str, ...]) -> tuple[CliState, list[str]]:
    """What a session does: configuration mode, the lines, back out; the answers of the lines."""
    cli = cli_of(state.platform)
    answers = []
    for line in (cli.config_enter, *lines, cli.config_leave):
        state, answer = handle(state, line, NOW)
        answers.append(answer)
    return state, answers[1:-1]


def logged_in(device: DevicePlan) -> CliState:
    config = initial_config(device)
    state, _ = login(device, DeviceMemory(config, config, NOW, NOW), NOW)
    if state.pending:
        state, _ = handle(state, "n", NOW)
    if cli_of(device.platform).family == "ios":  # netmiko's RGOS driver enables too, though no show needs it
        state, _ = handle(state, "enable", NOW)
    return state


@pytest.mark.parametrize("platform", SSH_PLATFORMS)
def test_plan_typed_into_the_lab_converges_and_rolls_back(city: CityPlan, platform: str) -> None:
    device = device_of(city, platform)
    state = logged_in(device)
    before = render(device, state.memory.running, NOW)
    cli = cli_of(platform)
    port = device.interfaces[0].name
    # Comware 7 has no interface `ipv6 enable`: the address is enough there
    lines = ["description dual-stack uplink", *(["ipv6 enable"] if platform != "hp_comware" else []),
             "ipv6 address 2001:db8:1::1/64"]
    plan = plan_change(platform, before, lines, [f"interface {port}"])
    assert plan.changed
    assert plan.commands[0] == f"interface {port}"
    state, answers = type_into(state, typed(platform, plan.commands))
    assert all(rejection(a) is None for a in answers)
    after = render(device, state.memory.running, NOW)
    assert not plan_change(platform, after, lines, [f"interface {port}"]).changed  # idempotent
    # the plan shows the future with its secrets hidden (a device's configuration holds hashes and keys)
    assert sorted(hide_secrets(line) for line in read_config(platform, after).dump_simple()) == \
        sorted(plan.after.splitlines())
    state, _ = type_into(state, typed(platform, plan.rollback))
    assert read_config(platform, render(device, state.memory.running, NOW)).dump_simple() == \
        read_config(platform, before).dump_simple()
    # A line the device's grammar refuses (a rate that is not a number) is found in its answer.
    refused = [f"interface {port}", "qos lr outbound cir fast" if cli.family == "vrp" else "bandwidth fast"]
    _, answers = type_into(state, typed(platform, refused))
    assert rejection(answers[-1]) is not None
    # the same lines, in the order the device prints them rather than the order they were planned in
    assert sorted(way_back(platform, after, before)) == sorted(plan.rollback)


def test_addresses_typed_in_lower_case_match_what_the_device_prints() -> None:
    running = "#\ninterface GigabitEthernet0/0/1\n ipv6 enable\n ipv6 address 2001:DB8:4::1/64\n#\n"
    typed = ["ipv6 enable", "ipv6 address 2001:0db8:0004:0:0::1/64"]
    assert plan_change("huawei_vrp", running, typed, ["interface GigabitEthernet0/0/1"]).commands == ()
    assert as_printed("  ipv6 route-static 2001:db8:: 32 fe80::1") == "  ipv6 route-static 2001:DB8:: 32 FE80::1"
    assert as_printed(" description to 2001:db8::1") == " description to 2001:db8::1"  # free text, as typed
    assert as_printed("ip address 10.0.0.1 255.255.255.0") == "ip address 10.0.0.1 255.255.255.0"
