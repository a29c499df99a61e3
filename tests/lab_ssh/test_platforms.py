"""The platform table (collectors/platforms.py) and the simulator agree: every command yiwang types is answered."""

from __future__ import annotations

from dataclasses import replace

import pytest

from collectors.platforms import PLATFORMS, SSH_PLATFORMS, cli_of
from inventory.model import PLATFORMS as INVENTORY_PLATFORMS
from lab.city import CityPlan
from lab.ssh.cli import CliState, handle, login, lookup
from lab.ssh.show import SHOWS
from tests.lab_ssh.conftest import NOW, first_device, fresh_memory


def test_one_entry_per_inventory_platform() -> None:
    assert set(PLATFORMS) == set(INVENTORY_PLATFORMS)
    assert all(name == p.name for name, p in PLATFORMS.items())


@pytest.mark.parametrize("platform", SSH_PLATFORMS)
def test_the_lab_answers_every_show_command(platform: str) -> None:
    cli = cli_of(platform)
    for command in (*cli.show.values(), cli.config_command, cli.startup_command):
        assert lookup(SHOWS[platform], command) == command


def _logged_in(plan: CityPlan, platform: str) -> CliState:
    device = first_device(plan, platform)
    state, _ = login(device, fresh_memory(device), NOW)
    if state.pending:  # Huawei asks for a password change first
        state, _ = handle(state, "n", NOW)
    cli = cli_of(platform)
    if cli.enable:
        state, _ = handle(state, "enable", NOW)
    for command in cli.pager_off:
        state, text = handle(state, command, NOW)
        assert cli.unknown_command not in text
    return state


@pytest.mark.parametrize("platform", SSH_PLATFORMS)
def test_save_dialogue_and_config_end(small: CityPlan, platform: str) -> None:
    cli = cli_of(platform)
    state = _logged_in(small, platform)
    if not cli.enable and cli.family == "ios":
        state, _ = handle(state, "enable", NOW)  # saving needs privileged mode on every IOS-like CLI
    changed = replace(state, memory=replace(state.memory, running=(*state.memory.running, ("ntp server x", ()))))
    state, text = handle(changed, cli.save_command, NOW)
    if cli.save[cli.save_command]:
        assert text.endswith(cli.save[cli.save_command])
        state, text = handle(state, "y", NOW)
    assert cli.save_done in text
    assert state.memory.startup == state.memory.running
    _, shown = handle(state, cli.config_command, NOW)
    assert shown.splitlines()[-2].strip() == cli.config_end  # the last line before the prompt


def test_unknown_platform_has_no_cli() -> None:
    with pytest.raises(KeyError):
        cli_of("linux")
    with pytest.raises(KeyError):
        cli_of("junos")
