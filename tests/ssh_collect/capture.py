"""Record lab device output into case folders once (not collected by pytest).

Run: .venv/bin/python -m tests.ssh_collect.capture
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from netmiko import ConnectHandler

from collectors.platforms import cli_of
from lab.city import generate_city
from lab.ssh.process import running_lab
from tests.lab_ssh.measure_netmiko import TUNED_CONNECT

CASES = Path(__file__).parent / "cases"


def main() -> None:
    plan = generate_city(2026, "small")
    with tempfile.TemporaryDirectory() as tmp, running_lab(Path(tmp), ["--per-platform", "1"]) as lab:
        for name, addresses in lab.addresses.items():
            device = plan.device(name)
            if not device.address:
                continue
            platform = device.platform
            cli = cli_of(platform)
            conn = ConnectHandler(device_type=cli.netmiko_type, host=addresses[0], port=lab.port,
                                  username=lab.username, password=lab.password, secret=lab.password, **TUNED_CONNECT)
            if cli.enable:
                conn.enable()
            port = device.interfaces[0].name
            v6 = ["ipv6 enable"] if platform == "huawei_vrp" else []
            conn.send_config_set([cli.config_enter, f"interface {port}", *v6, "ipv6 address 2001:DB8::1/64",
                                  cli.config_leave], enter_config_mode=False, exit_config_mode=False, read_timeout=10)
            for kind, command in {**cli.show, "config": cli.config_command}.items():
                folder = CASES / f"{platform}-{kind}"
                folder.mkdir(parents=True, exist_ok=True)
                (folder / "raw.txt").write_text(conn.send_command(command, read_timeout=10))
            conn.disconnect()


if __name__ == "__main__":
    main()
