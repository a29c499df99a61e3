"""The bandwidth change's lines, rendered from playbooks/templates/bandwidth, typed on every kind of interface the
small lab's devices have (GigabitEthernet, XGigabitEthernet, Ten-GigabitEthernet, RGOS's `GigabitEthernet 0/1`):
each is taken without an error and shows in the running configuration, and a new rate replaces the old."""

from __future__ import annotations

import re
from pathlib import Path

import jinja2
import pytest

from collectors.platforms import SSH_PLATFORMS, cli_of
from lab.city import CityPlan, DevicePlan
from lab.ssh.cli import CliState, handle, login
from tests.lab_ssh.conftest import NOW, fresh_memory

TEMPLATES = Path(__file__).resolve().parents[2] / "playbooks" / "templates" / "bandwidth"
ENTER = {"huawei_vrp": ["system-view"], "hp_comware": ["system-view"],
         "cisco_ios": ["enable", "configure terminal"], "ruijie_os": ["enable", "configure terminal"]}
LEAVE = {"huawei_vrp": "return", "hp_comware": "return", "cisco_ios": "end", "ruijie_os": "end"}
ERROR = re.compile(r"Error:|% ?(Unrecognized|Wrong|Incomplete|Invalid)")


def kinds(plan: CityPlan, platform: str) -> list[tuple[DevicePlan, str]]:
    """One (device, interface) for each kind of interface the platform's devices have in the lab."""
    found: dict[str, tuple[DevicePlan, str]] = {}
    for device in plan.devices:
        if device.platform == platform:
            for interface in device.interfaces:
                found.setdefault(re.sub(r"[\d/ ]+$", "", interface.name), (device, interface.name))
    return sorted(found.values(), key=lambda pair: pair[1])


def render(platform: str, rates: list[dict[str, object]]) -> list[str]:
    # Ansible's template defaults: trim_blocks on, undefined is an error.
    env = jinja2.Environment(trim_blocks=True, undefined=jinja2.StrictUndefined, autoescape=False)  # noqa: S701 - CLI text
    text = env.from_string((TEMPLATES / f"{platform}.j2").read_text()).render(yiwang_bandwidth=rates)
    return [line for line in text.splitlines() if line.strip()]


def typed(state: CliState, lines: list[str]) -> tuple[CliState, str]:
    answers = []
    for line in [*ENTER[state.plan.platform], *lines, LEAVE[state.plan.platform]]:
        state, answer = handle(state, line, NOW)
        answers.append(answer)
    return state, "".join(answers)


def running(state: CliState) -> str:
    """The whole running configuration, with the pager off as an automation session has it (a hardened device's
    configuration is longer than a screen)."""
    cli = cli_of(state.plan.platform)
    for line in cli.pager_off:
        state, _ = handle(state, line, NOW)
    return handle(state, cli.config_command, NOW)[1]


@pytest.mark.parametrize("platform", SSH_PLATFORMS)
def test_the_rate_is_taken_on_every_kind_of_interface(small: CityPlan, platform: str) -> None:
    pairs = kinds(small, platform)
    assert pairs
    for device, interface in pairs:
        state, _ = login(device, fresh_memory(device), NOW)
        if state.pending:  # VRP asks at login whether to change the password
            state, _ = handle(state, "n", NOW)
        rates: list[dict[str, object]] = [{"interface": interface, "kbps": 200_000, "peer_device": "peer",
                                           "peer_interface": "GigabitEthernet0/0/1"}]
        lines = render(platform, rates)
        state, answers = typed(state, lines)
        assert not ERROR.search(answers), (interface, answers)
        config = running(state)
        section = config.split(f"interface {interface}\n", 1)[1].split("\n#")[0].split("\n!")[0]
        for line in lines[1:]:
            assert line in section.splitlines(), (interface, line, section)
        # A new rate replaces the old one: the device keeps one line-rate command per interface.
        state, answers = typed(state, render(platform, [{**rates[0], "kbps": 500_000}]))
        assert not ERROR.search(answers), answers
        section = running(state).split(f"interface {interface}\n", 1)[1].split("\n#")[0].split("\n!")[0]
        assert "200000" not in section and "500000" in section, section
