"""Real SSH on loopback: netmiko against `python -m lab.ssh.server` (tuned arguments, see measure_netmiko.py)."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncssh
import pytest
from netmiko import ConnectHandler, NetmikoAuthenticationException, ReadTimeout

from collectors.platforms import SSH_PLATFORMS, cli_of
from lab.city import CityPlan, generate_city
from lab.ssh.cli import MORE, SCREEN_LENGTH
from lab.ssh.faults import Faults
from lab.ssh.process import RunningSSHLab, running_lab
from lab.ssh.server import pick, serve
from tests.lab_ssh.measure_netmiko import TUNED_CONNECT

pytestmark = pytest.mark.integration
TEMPLATED = {"huawei_vrp", "hp_comware", "cisco_ios"}


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSSHLab]:
    with running_lab(tmp_path_factory.mktemp("sshlab"), ["--per-platform", "1"]) as running:
        yield running


def connect(lab: RunningSSHLab, plan: CityPlan, name: str, address: str | None = None, **extra: Any) -> Any:
    cli = cli_of(plan.device(name).platform)
    conn = ConnectHandler(device_type=cli.netmiko_type, host=address or lab.addresses[name][0], port=lab.port,
                          username=lab.username, password=lab.password, secret=lab.password,
                          **{**TUNED_CONNECT, **extra})
    if cli.enable:
        conn.enable()
    return conn


def sessions(lab: RunningSSHLab) -> list[tuple[str, str]]:
    return [(name, address) for name, addresses in lab.addresses.items() for address in addresses]


def test_every_platform_and_ipv6_is_served(lab: RunningSSHLab, small: CityPlan) -> None:
    platforms = {small.device(name).platform for name in lab.addresses}
    assert platforms == set(SSH_PLATFORMS)
    assert any(":" in address for _, address in sessions(lab))


@pytest.mark.parametrize("index", range(5))
def test_read_push_save_and_see_it_in_a_new_session(lab: RunningSSHLab, small: CityPlan, index: int) -> None:
    name, address = sessions(lab)[index]
    device = small.device(name)
    platform, port = device.platform, device.interfaces[0].name
    cli = cli_of(platform)
    conn = connect(lab, small, name, address)
    parsed = conn.send_command(cli.show["interfaces"], use_textfsm=True)
    if platform in TEMPLATED:
        # Comware 7 abbreviates names in the brief table: GE1/0/1, XGE1/0/1.
        short = port.replace("Ten-GigabitEthernet", "XGE").replace("GigabitEthernet", "GE")
        assert isinstance(parsed, list) and parsed[0]["interface"] == (short if platform == "hp_comware" else port)
    else:  # RGOS: names with a space, as the device names them
        assert f"\n{port} " in parsed
    marker = f"pushed by test {random.randint(1000, 9999)}"
    conn.send_config_set([cli.config_enter, f"interface {port}", f"description {marker}", cli.config_leave],
                         enter_config_mode=False, exit_config_mode=False, read_timeout=10)
    assert "Building configuration" in conn.save_config() or "successfully" in conn.save_config()
    conn.disconnect()
    again = connect(lab, small, name, address)
    assert f"description {marker}" in again.send_command(cli.config_command)
    again.disconnect()
    assert f"description {marker}" in (lab.state_dir / f"{name}.cfg").read_text()


def test_stock_send_config_set_works_too(lab: RunningSSHLab, small: CityPlan) -> None:
    name = next(n for n in lab.addresses if small.device(n).platform == "cisco_ios")
    conn = connect(lab, small, name)
    conn.send_config_set(["ntp server 127.0.0.9"])
    assert "ntp server 127.0.0.9" in conn.send_command("show running-config")
    conn.disconnect()


def test_startup_config_survives_a_restart(tmp_path: Path, small: CityPlan) -> None:
    name = next(d.name for d in pick(small.devices, [], 1) if d.platform == "hp_comware")
    for _ in range(2):
        with running_lab(tmp_path, ["--devices", name]) as running:
            conn = connect(running, small, name)
            seen = "sysname H3C-RESTARTED" in conn.send_command("display current-configuration")
            if not seen:
                conn.send_config_set(["sysname H3C-RESTARTED"], exit_config_mode=False)
                conn.save_config()
            conn.disconnect()
    assert seen


@pytest.fixture()
def faulty(tmp_path: Path, small: CityPlan) -> Iterator[tuple[RunningSSHLab, str]]:
    name = next(d.name for d in pick(small.devices, [], 1) if d.platform == "huawei_vrp" and d.address)
    with running_lab(tmp_path, ["--devices", name]) as running:
        yield running, name


def test_auth_failure_fault(faulty: tuple[RunningSSHLab, str], small: CityPlan) -> None:
    lab, name = faulty
    lab.set_faults({name: Faults(auth_fail=True)})
    with pytest.raises(NetmikoAuthenticationException):
        connect(lab, small, name)
    lab.set_faults({})
    connect(lab, small, name).disconnect()


def test_dropped_session_raises(faulty: tuple[RunningSSHLab, str], small: CityPlan) -> None:
    lab, name = faulty
    conn = connect(lab, small, name)
    lab.set_faults({name: Faults(drop=True)})
    start = time.monotonic()
    # netmiko does not notice the closed channel while reading; it gives up at read_timeout.
    with pytest.raises(ReadTimeout):
        conn.send_command("display current-configuration", read_timeout=3)
    assert time.monotonic() - start < 5
    assert not conn.is_alive()


def test_garbage_and_slow_output_still_return(faulty: tuple[RunningSSHLab, str], small: CityPlan) -> None:
    lab, name = faulty
    lab.set_faults({name: Faults(garbage=True, delay_s=0.02)})
    conn = connect(lab, small, name)
    start = time.monotonic()
    out = conn.send_command("display interface brief", read_timeout=20)
    assert time.monotonic() - start > 0.02 * 10
    assert "x" * 4000 in out and "---- More ----" in out
    assert small.device(name).interfaces[-1].name in out
    conn.disconnect()


async def test_host_key_rotation_is_seen_by_clients(faulty: tuple[RunningSSHLab, str], small: CityPlan) -> None:
    lab, name = faulty
    host = lab.addresses[name][0]
    old = await asyncssh.get_server_host_key(host, lab.port)
    assert old is not None
    lab.set_faults({name: Faults(key_generation=1)})
    new = await asyncssh.get_server_host_key(host, lab.port)
    assert new is not None and new.public_data != old.public_data
    with pytest.raises(asyncssh.HostKeyNotVerifiable):
        await asyncssh.connect(host, lab.port, known_hosts=([old], [], []), username=lab.username,
                               password=lab.password)


async def _read_until(process: asyncssh.SSHClientProcess[str], *marks: str) -> str:
    text = ""
    while not any(m in text for m in marks):
        text += await asyncio.wait_for(process.stdout.read(65536), 10)
    return text


@pytest.mark.parametrize("platform", SSH_PLATFORMS)
async def test_a_session_that_sets_no_length_gets_the_pager(lab: RunningSSHLab, small: CityPlan,
                                                             platform: str) -> None:
    """netmiko sets the length at login; a person at a terminal who does not gets the vendor's pager."""
    name = next(n for n in lab.addresses if small.device(n).platform == platform)
    cli = cli_of(platform)
    more, erase = MORE[platform]
    # Output longer than a screen on every platform: optics on VRP and Comware, the configuration on IOS and RGOS.
    command = cli.show["transceiver"] if cli.family == "vrp" else cli.config_command
    async with asyncssh.connect(lab.addresses[name][0], lab.port, known_hosts=None, username=lab.username,
                                password=lab.password) as conn:
        process = await conn.create_process(term_type="vt100")
        text = await _read_until(process, ">", "]:")
        if text.endswith("]:"):  # Huawei asks for a password change first
            process.stdin.write("n\r\n")
            text = await _read_until(process, ">")
        if cli.enable:
            process.stdin.write("enable\r\n")
            text = await _read_until(process, "#")
        prompt = text.rsplit("\n", 1)[-1]
        process.stdin.write(command + "\r\n")
        first = await _read_until(process, more)
        assert first.endswith(more) and prompt not in first
        assert len(first.split("\r\n")) == SCREEN_LENGTH + 1  # the echo's row, a screen of 23 rows, the pager
        rest = ""
        while not rest.endswith(prompt):  # space: the next screen, until the prompt
            process.stdin.write(" ")
            rest += await _read_until(process, more, prompt)
        assert rest.startswith(erase) and rest.count(more) == rest.count(erase) - 1
        for line in cli.pager_off:
            process.stdin.write(line + "\r\n")
            await _read_until(process, prompt)
        process.stdin.write(command + "\r\n")
        whole = await _read_until(process, "\n" + prompt)
        assert more not in whole and erase not in whole
        assert (first + rest).replace(more + erase, "") == whole  # the same output, only paged
        process.stdin.write(cli.logout + "\r\n")
        process.close()


async def test_250_listeners_in_one_process(tmp_path: Path) -> None:
    devices = pick(generate_city(2026, "city").devices, [], 0)[:250]
    port = random.randint(22000, 29999)
    lab = await serve(devices, port, tmp_path, ("lab", "pw-250"))
    try:
        assert sum(len(d.listeners) for d in lab.devices.values()) >= 250
        last = devices[-1]
        async with asyncssh.connect(last.host, port, known_hosts=None, username="lab", password="pw-250") as conn:
            process = await conn.create_process(term_type="vt100")
            greeting = await process.stdout.readuntil((">", "]:"))
            assert greeting
            process.close()
    finally:
        await lab.close()
