"""Alerting at city scale, and how fast a fault becomes a notification.

1. The shipped rules evaluated over one synthetic full-city cycle of samples (benchmarks/alerts_eval.py), healthy
   and during a county storm.
2. The small lab monitored by a real `yiwang run` (poll interval --interval), with a webhook receiver and the trap
   receiver on: the time from a lab fault to the webhook notification, once for a village that goes dark (seen
   only by polling) and once for an uplink that goes down and says so with a linkDown trap. The rules' `for`
   delays are set to 0 here: the figure is the pipeline's latency, and a rule's `for` adds to it by design.

Last line: samples=… eval_ms=… fault_to_notify_s=… (plus the storm and trap figures).
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import yaml
from alerts_eval import measure

from alerts.rules import DEFAULT_RULES
from lab import lab_clear, lab_down, lab_fault, lab_inventory_dir, lab_up
from lab.peers import free_port, recorder


def _wait(condition, timeout: float):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            found = condition()
        except (httpx.HTTPError, KeyError, ValueError):
            found = None
        if found:
            return found
        time.sleep(0.05)
    raise TimeoutError("condition not met")


def fault_latency(interval_s: float, work: Path) -> dict[str, float]:
    state = work / "lab"
    lab_up(state, "small", 2026, port=random.randint(20000, 29999))
    try:
        rules = yaml.safe_load(DEFAULT_RULES.read_text())
        for rule in rules["rules"]:
            if rule["kind"] != "absent":
                rule["for"] = "0s"
        (work / "rules.yaml").write_text(yaml.safe_dump(rules))
        trap_port, api_port, hook_port = free_port(socket.SOCK_DGRAM), free_port(), free_port()
        secret = (state / "lab") / "community.secret"
        config = work / "yiwang.yaml"
        config.write_text(yaml.safe_dump({
            "state_dir": str(state), "database_url": f"sqlite:///{work}/y.db", "api": {"port": api_port},
            "auth": {"enabled": False},  # monitoring latency, not auth: see auth_overhead.py
            "poll": {"interval_s": interval_s, "icmp_interval_s": interval_s},
            "alerts": {"rules": [str(work / "rules.yaml")],
                       "notifiers": [{"name": "bench", "type": "webhook", "url": f"http://127.0.0.1:{hook_port}/"}]},
            "traps": {"enabled": True, "port": trap_port, "communities": [{"file": str(secret)}]}}))
        links = yaml.safe_load((lab_inventory_dir(state) / "links.yaml").read_text())["links"]
        villages = [link for link in links if link["area"].count(".") == 4]
        dark, trapped = villages[3], villages[40]
        log = open(work / "yiwang.log", "wb")  # noqa: SIM115
        with recorder(hook_port) as webhook:
            process = subprocess.Popen([sys.executable, "-m", "yiwang", "run", "-c", str(config)], stdout=log,
                                       stderr=subprocess.STDOUT, env={**os.environ})
            try:
                api = f"http://127.0.0.1:{api_port}"
                _wait(lambda: httpx.get(f"{api}/api/areas").json()[0]["devices"]["unknown"] == 0, 120)
                time.sleep(random.uniform(0, interval_s))  # a fault lands anywhere in the cycle
                started = time.monotonic()
                lab_fault(state, "unreachable", dark["area"])
                _wait(lambda: [b for b in webhook.bodies if b["labels"].get("area") == dark["area"]],
                      3 * interval_s + 60)
                polled = time.monotonic() - started
                device, interface = trapped["local"].split(":", 1)
                started = time.monotonic()
                lab_fault(state, "link-down", device, interface, trap_to=f"127.0.0.1:{trap_port}")
                _wait(lambda: [b for b in webhook.bodies if b["labels"].get("area") == trapped["area"]],
                      3 * interval_s + 60)
                trapped_s = time.monotonic() - started
            finally:
                lab_clear(state)
                process.send_signal(signal.SIGTERM)
                process.wait(60)
                log.close()
        return {"fault_to_notify_s": polled, "trap_fault_to_notify_s": trapped_s}
    finally:
        lab_down(state)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interval", type=float, default=30.0, help="poll interval of the monitored lab, s")
    args = parser.parse_args()
    evaluation = measure("city", 3)
    print(f"city: devices={evaluation['devices']} storm_eval_ms={evaluation['storm_eval_ms']:.0f} "
          f"storm_notifications={evaluation['notified']}", flush=True)
    with tempfile.TemporaryDirectory(prefix="yiwang-alerts-") as tmp:
        latency = fault_latency(args.interval, Path(tmp))
    print(f"samples={evaluation['samples']} eval_ms={evaluation['eval_ms']:.0f} "
          f"fault_to_notify_s={latency['fault_to_notify_s']:.1f} "
          f"trap_fault_to_notify_s={latency['trap_fault_to_notify_s']:.2f} poll_interval_s={args.interval:.0f}")


if __name__ == "__main__":
    main()
