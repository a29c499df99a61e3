"""How long netmiko takes to push 5 config lines, stock arguments against tuned ones, per platform.

Not a test (pytest does not collect it). Run: .venv/bin/python -m tests.lab_ssh.measure_netmiko
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from netmiko import ConnectHandler

from collectors.platforms import cli_of
from lab.city import generate_city
from lab.ssh.process import RunningSSHLab, running_lab

# Stock: what the netmiko docs show. Tuned: netmiko still verifies every echo (cmd_verify), but the config-mode
# checks that wait for 2 s of silence are replaced by explicit enter/leave lines in the set itself.
# Comware turns cmd_verify off by default (no terminal width); without it every push ends in 2 s of silence.
TUNED_CONNECT: dict[str, Any] = {"fast_cli": True, "conn_timeout": 5, "global_cmd_verify": True}



def five_lines(platform: str, port: str, n: int) -> list[str]:
    vrp = cli_of(platform).family == "vrp"
    back = "quit" if vrp else "exit"
    ntp = "ntp-service unicast-server" if vrp else "ntp server"
    return [f"interface {port}", f"description measured {n}", "ipv6 enable", back, f"{ntp} 127.0.0.{n % 200 + 1}"]


def stock_push(conn: Any, platform: str, cmds: list[str]) -> str:
    return str(conn.send_config_set(cmds))


def tuned_push(conn: Any, platform: str, cmds: list[str]) -> str:
    cli = cli_of(platform)
    return str(conn.send_config_set([cli.config_enter, *cmds, cli.config_leave], enter_config_mode=False,
                                    exit_config_mode=False, cmd_verify=True, read_timeout=10))


def measure(lab: RunningSSHLab, name: str, platform: str, port: str, connect: dict[str, Any],
            push: Callable[[Any, str, list[str]], str], rounds: int = 3) -> float:
    conn = ConnectHandler(device_type=cli_of(platform).netmiko_type, host=lab.addresses[name][0], port=lab.port,
                          username=lab.username, password=lab.password, secret=lab.password, **connect)
    if cli_of(platform).enable:
        conn.enable()
    spent = []
    for n in range(rounds):
        start = time.perf_counter()
        push(conn, platform, five_lines(platform, port, n))
        spent.append(time.perf_counter() - start)
    conn.disconnect()
    return sorted(spent)[len(spent) // 2]


def main() -> None:
    plan = generate_city(2026, "small")
    with tempfile.TemporaryDirectory() as tmp, running_lab(Path(tmp), ["--per-platform", "1"]) as lab:
        print(f"{'platform':<12} {'stock s':>8} {'tuned s':>8}")
        for name in lab.addresses:
            device = plan.device(name)
            if not device.address:
                continue
            port = device.interfaces[0].name
            stock = measure(lab, name, device.platform, port, {}, stock_push)
            tuned = measure(lab, name, device.platform, port, TUNED_CONNECT, tuned_push)
            print(f"{device.platform:<12} {stock:>8.2f} {tuned:>8.2f}")


if __name__ == "__main__":
    main()
