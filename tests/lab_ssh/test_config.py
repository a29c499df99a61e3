from __future__ import annotations

from datetime import timedelta

import pytest

from lab.city import CityPlan
from lab.ssh.cli import handle, login
from lab.ssh.config import apply_global, apply_interface, clean, initial_config, parse, render
from lab.ssh.faults import garble, parse_faults, split_for_drop
from lab.ssh.server import split_lines
from tests.lab_ssh.conftest import NOW, PLATFORMS, first_device, fresh_memory


@pytest.mark.parametrize("platform", PLATFORMS)
def test_saved_config_reads_back(small: CityPlan, platform: str) -> None:
    device = first_device(small, platform)
    config, head = apply_global(platform, initial_config(device), f"interface {device.interfaces[0].name}")
    config = apply_interface(platform, config, head, "ipv6 address 2001:DB8::9/64")
    config, _ = apply_global(platform, config, "ntp server 127.0.0.1")
    assert parse(render(device, config, NOW)) == config


def test_undo_and_no_remove_what_they_name() -> None:
    config, _ = apply_global("huawei_vrp", (), "ntp-service unicast-server 127.0.0.1")
    config, _ = apply_global("huawei_vrp", config, "ip route-static 0.0.0.0 0.0.0.0 10.0.0.1")
    config, _ = apply_global("huawei_vrp", config, "undo ntp-service unicast-server 127.0.0.1")
    assert config == (("ip route-static 0.0.0.0 0.0.0.0 10.0.0.1", ()),)
    body = apply_interface("cisco_ios", (("interface Gi0/1", ("description a", "shutdown")),), "interface Gi0/1",
                           "no description")
    assert body == (("interface Gi0/1", ("shutdown",)),)


def test_hostile_names_become_one_printable_line(small: CityPlan) -> None:
    hostile = next(d for d in small.devices if d.hostile)
    text = render(hostile, initial_config(hostile), NOW)
    assert "\r" not in text and "\x00" not in text
    assert "\n" not in clean(hostile.interfaces[1].alias)


def test_volatile_header_line_moves_only_when_config_changes(small: CityPlan) -> None:
    device = first_device(small, "cisco_ios")
    state, _ = login(device, fresh_memory(device), NOW)
    later = NOW + timedelta(minutes=5)
    for line in ("enable", "show version", "configure terminal"):
        state, _ = handle(state, line, later)
    assert state.memory.updated_at == NOW
    state, _ = handle(state, "ntp server 127.0.0.1", later)
    assert state.memory.updated_at == later
    assert "10:05:00" in render(device, state.memory.running, state.memory.updated_at)


def test_line_splitting_handles_cr_lf_and_partial_input() -> None:
    assert split_lines("dis", "play version\r\nsave\ry") == (["display version", "save"], "y")
    assert split_lines("", "\n") == ([""], "")


def test_fault_text_helpers() -> None:
    assert parse_faults('{"a": {"auth_fail": true, "unknown": 1}}')["a"].auth_fail
    text = "echo\nl1\nl2\nl3\nl4\nl5\nprompt#"
    assert "---- More ----" in garble(text) and garble(text).endswith("prompt#")
    assert split_for_drop(text) == "echo\nl1\nl2\n"
    assert split_for_drop("echo\nprompt#") is None
