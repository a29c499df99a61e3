"""A trap closes the gap between polls: the lab takes a village uplink down and says so with a linkDown trap;
`yiwang run` notifies before its next poll cycle, and the linkUp trap resolves it the same way."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import yaml

from alerts.rules import DEFAULT_RULES
from lab import lab_clear, lab_fault, lab_inventory_dir
from lab.peers import free_port, recorder
from tests.e2e.conftest import api_client, api_token
from tests.e2e.test_run import _cycles, _wait


def test_link_down_trap_notifies_between_polls(lab_state: Path, tmp_path: Path) -> None:
    rules = yaml.safe_load(DEFAULT_RULES.read_text())
    for rule in rules["rules"]:
        if rule["kind"] != "absent":
            rule["for"] = "0s"
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rules))
    trap_port = free_port(socket.SOCK_DGRAM)
    api_port, hook_port = free_port(), free_port()
    secret = (lab_state / "lab") / "community.secret"
    config = tmp_path / "yiwang.yaml"
    config.write_text(yaml.safe_dump({
        "state_dir": str(lab_state), "database_url": f"sqlite:///{tmp_path}/y.db",
        "api": {"port": api_port},
        # long intervals: anything that happens within the test after the first cycles is the traps' doing
        "poll": {"interval_s": 600, "icmp_interval_s": 600, "timeout_s": 1, "retries": 1, "workers": 1},
        "alerts": {"rules": [str(tmp_path / "rules.yaml")],
                   "notifiers": [{"name": "noc", "type": "webhook", "url": f"http://127.0.0.1:{hook_port}/"}]},
        "traps": {"enabled": True, "port": trap_port, "communities": [{"file": str(secret)}]},
    }))
    devices = yaml.safe_load((lab_inventory_dir(lab_state) / "links.yaml").read_text())["links"]
    village_link = next(link for link in devices if link["area"].count(".") == 4)
    device, interface = village_link["local"].split(":", 1)
    device_ip = next(d["address"] for d in yaml.safe_load((lab_inventory_dir(lab_state) / "devices.yaml").read_text())[
        "devices"] if d["name"] == device)
    log = tmp_path / "yiwang.log"
    client = api_client(f"http://127.0.0.1:{api_port}", api_token(config, "viewer"))
    with recorder(hook_port) as webhook, open(log, "wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "yiwang", "run", "-c", str(config)], stdout=out,
                                   stderr=subprocess.STDOUT, env={**os.environ})
        try:
            _wait(lambda: len(client.get(f"/api/devices/{device}").json()["health"]) == 2, 90, "first cycles")
            _wait(lambda: "icmp cycle:" in log.read_text() and "snmp cycle:" in log.read_text(), 30, "both cycles")
            lab_fault(lab_state, "link-down", device, interface, trap_to=f"127.0.0.1:{trap_port}")
            firing = _wait(lambda: [b for b in webhook.bodies if b["kind"] == "firing"], 30, "the trap's alert")
            assert len(firing) == 1 and firing[0]["labels"]["area"] == village_link["area"]
            lab_clear(lab_state, trap_to=f"127.0.0.1:{trap_port}")
            _wait(lambda: [b for b in webhook.bodies if b["kind"] == "resolved"], 30, "the linkUp trap's resolve")
            assert _cycles(log) == 1  # no poll cycle ran in between: the traps did it
            assert [b["kind"] for b in webhook.bodies] == ["firing", "resolved"]
            # a device reporting that someone tried a wrong community on it: a security event
            subprocess.run(["snmptrap", "-v", "2c", "-c", secret.read_text().strip(), f"--clientaddr={device_ip}",
                            f"127.0.0.1:{trap_port}", "", "1.3.6.1.6.3.1.1.5.5"], check=True, timeout=10)
            events = _wait(lambda: client.get("/api/security-events").json(), 20, "the security event")
            assert [(e["kind"], e["device"]) for e in events] == [("authenticationFailure", device)]
        finally:
            lab_clear(lab_state)
            process.send_signal(signal.SIGTERM)
            code = process.wait(timeout=60)
    assert code == 0, log.read_text()[-2000:]
