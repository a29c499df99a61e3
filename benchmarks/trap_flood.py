"""Can one device's trap flood stop the monitoring of the others? `yiwang run` on the small lab with 10 s SNMP and
ICMP cycles and traps enabled; one device address sends 5,000 v2c linkDown traps a second for 60 s, and halfway
through the lab takes another device's village uplink down and announces it with its own linkDown trap.

Run as root (ICMP needs raw sockets), from the repository root:  python benchmarks/trap_flood.py

Measured during the flood: SNMP/ICMP cycles due in the window that started more than 2 s late (or never started),
the p99 of `GET /api/areas?depth=2` sent every 0.2 s, the seconds from the legitimate linkDown to its webhook alert,
and the flooding source's dropped traps as yiwang exports them (`yiwang_trap_intake_dropped`). Last line:
    traps_per_s=... late_cycles=... api_p99_ms=... linkdown_to_alert_s=... dropped=...
"""

from __future__ import annotations

import argparse
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from alerts.rules import DEFAULT_RULES
from collectors.snmp import ber
from lab import lab_clear, lab_down, lab_fault, lab_inventory_dir, lab_up
from lab.peers import free_port, recorder

ROOT = Path(__file__).resolve().parents[1]
INTERVAL_S = 10.0
LATE_S = 2.0
API_EVERY_S = 0.2
API_TIMEOUT_S = 30.0
LINK_DOWN = "1.3.6.1.6.3.1.1.5.3"
STAMP = r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) \S+ \S+: "
CYCLE = re.compile(STAMP + r"(\w+) cycle: \d+ devices, \d+ failed, \d+ varbinds in ([\d.]+) s, started ([\d.]+) s late")
DROPPED = re.compile(r'^yiwang_trap_intake_dropped\{[^}]*source="([^"]+)"[^}]*\} ([0-9.e+]+)$', re.M)


def _epoch(stamp: str) -> float:
    return datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f").timestamp()


def cycles(log_text: str) -> list[tuple[str, float, float]]:
    """(collector, start epoch, late s) of every finished cycle."""
    found = []
    for line in log_text.splitlines():
        if m := CYCLE.match(line):
            found.append((m[2], _epoch(m[1]) - float(m[3]), float(m[4])))
    return found


def late_cycles(found: list[tuple[str, float, float]], window: tuple[float, float]) -> int:
    """Cycles due in the window that started late, plus those that should have run in it and did not."""
    late = 0
    for collector in ("snmp", "icmp"):
        starts = [(s, lateness) for c, s, lateness in found if c == collector]
        inside = [(s, lateness) for s, lateness in starts if window[0] <= s - lateness <= window[1]]
        late += sum(1 for _, lateness in inside if lateness > LATE_S)
        late += max(0, int((window[1] - window[0]) / INTERVAL_S) - 1 - len(inside))
    return late


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def poll_api(url: str, stop: threading.Event, out: list[tuple[float, float]]) -> None:
    next_at = time.monotonic()
    while not stop.is_set():
        sent, started = time.time(), time.perf_counter()
        try:
            with urllib.request.urlopen(url, timeout=API_TIMEOUT_S) as response:  # noqa: S310 - our loopback API
                response.read()
            out.append((sent, time.perf_counter() - started))
        except OSError:
            out.append((sent, API_TIMEOUT_S))
        next_at = max(next_at + API_EVERY_S, time.monotonic())
        stop.wait(max(0.0, next_at - time.monotonic()))


def flood(source: str, target: tuple[str, int], community: bytes, rate: int, seconds: float,
          sent: list[int]) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((source, 0))
    datagrams = []
    for i in range(100):
        varbinds = [ber.encode_varbind("1.3.6.1.2.1.1.3.0", ber.TIMETICKS, 1000 + i),
                    ber.encode_varbind("1.3.6.1.6.3.1.1.4.1.0", ber.OBJECT_IDENTIFIER, LINK_DOWN),
                    ber.encode_varbind("1.3.6.1.2.1.2.2.1.1.1", ber.INTEGER, 1)]
        datagrams.append(ber.encode_message(community, 0xA7, i, 0, 0, ber.encode_varbind_list(varbinds)))
    started = time.monotonic()
    count = 0
    while (now := time.monotonic()) - started < seconds:
        burst = max(0, int((now - started) * rate) - count)  # catch up to the rate, in small bursts
        for i in range(burst):
            sock.sendto(datagrams[i % 100], target)
        count += burst
        time.sleep(0.002)
    sent.append(count)
    sock.close()


def wait(check: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := check():
            return found
        time.sleep(0.1)
    raise RuntimeError(f"timed out waiting for {what}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--rate", type=int, default=5000, help="traps a second from the flooding address")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--keep", type=Path, help="an empty folder to work in and keep (logs, configs)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root: ICMP to the lab's addresses needs raw sockets")
    with tempfile.TemporaryDirectory(prefix="trap-flood-") as tmp:
        work = args.keep or Path(tmp)
        lab_state = work / "lab"
        status = lab_up(lab_state, profile="small", port=random.randint(30000, 39999))
        print(f"lab: {status.devices} devices up", flush=True)
        try:
            print(run(lab_state, work, args.rate, args.seconds), flush=True)
        finally:
            lab_down(lab_state)


def run(lab_state: Path, work: Path, rate: int, seconds: float) -> str:
    rules = yaml.safe_load(DEFAULT_RULES.read_text())
    for rule in rules["rules"]:
        if rule["kind"] != "absent":
            rule["for"] = "0s"
    (work / "rules.yaml").write_text(yaml.safe_dump(rules))
    trap_port, api_port, hook_port = free_port(socket.SOCK_DGRAM), free_port(), free_port()
    secret = lab_state / "lab" / "community.secret"
    config = work / "yiwang.yaml"
    config.write_text(yaml.safe_dump({
        "state_dir": str(lab_state), "database_url": f"sqlite:///{work}/y.db", "api": {"port": api_port},
        "auth": {"enabled": False},  # monitoring latency, not auth: see auth_overhead.py
        "poll": {"interval_s": INTERVAL_S, "icmp_interval_s": INTERVAL_S},
        "alerts": {"rules": [str(work / "rules.yaml")],
                   "notifiers": [{"name": "noc", "type": "webhook", "url": f"http://127.0.0.1:{hook_port}/"}]},
        "traps": {"enabled": True, "port": trap_port, "communities": [{"file": str(secret)}]},
    }))
    inventory = lab_inventory_dir(lab_state)
    links = yaml.safe_load((inventory / "links.yaml").read_text())["links"]
    devices = yaml.safe_load((inventory / "devices.yaml").read_text())["devices"]
    village_link = next(link for link in links if link["area"].count(".") == 4)
    victim, interface = village_link["local"].split(":", 1)
    flooder = next(d for d in devices if d["name"] != victim and d.get("address"))
    log_path = work / "yiwang.log"
    api: list[tuple[float, float]] = []
    stop = threading.Event()
    with recorder(hook_port) as webhook, log_path.open("wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "yiwang", "run", "-c", str(config)], cwd=ROOT,
                                   stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ))
        poller = threading.Thread(target=poll_api, args=(f"http://127.0.0.1:{api_port}/api/areas?depth=2", stop,
                                                         api), daemon=True)
        try:
            wait(lambda: len({c for c, _, _ in cycles(log_path.read_text())}) == 2, 300, "the first cycles")
            time.sleep(INTERVAL_S)  # past the first cycles' alerts
            poller.start()
            sent: list[int] = []
            sender = threading.Thread(target=flood, args=(flooder["address"], ("127.0.0.1", trap_port),
                                                          secret.read_text().strip().encode(), rate, seconds, sent))
            window_start = time.time()
            sender.start()
            time.sleep(seconds / 2)
            before = len(webhook.bodies)
            fault_at = time.time()
            lab_fault(lab_state, "link-down", victim, interface, trap_to=f"127.0.0.1:{trap_port}")
            alert = wait(lambda: [b for b in webhook.bodies[before:] if b["kind"] == "firing"
                                  and b["labels"].get("area") == village_link["area"]], 60, "the linkDown's alert")
            alert_s = alert[0]["at_ns"] / 1e9 - fault_at
            sender.join()
            window_end = time.time()
            time.sleep(INTERVAL_S + LATE_S)  # the cycles due at the window's end
            metrics = urllib.request.urlopen(f"http://127.0.0.1:{api_port}/metrics", timeout=30).read().decode()  # noqa: S310
        finally:
            stop.set()
            lab_clear(lab_state)
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    dropped = sum(float(v) for source, v in DROPPED.findall(metrics) if source == flooder["address"])
    inside = [s for t, s in api if window_start <= t <= window_end]
    found = cycles(log_path.read_text())
    late = late_cycles(found, (window_start, window_end))
    print(f"flood from {flooder['name']} ({flooder['address']}): {sent[0]} traps in {window_end - window_start:.0f} s;"
          f" {victim} {interface} linkDown alert after {alert_s:.2f} s; cycles started in the window: "
          f"{[(c, round(lateness, 1)) for c, s, lateness in found if window_start <= s <= window_end]}; API "
          f"{len(inside)} requests, p50 {percentile(inside, 0.5) * 1000:.0f} ms; log {log_path}", flush=True)
    return (f"traps_per_s={sent[0] / seconds:.0f} late_cycles={late} api_p99_ms={percentile(inside, 0.99) * 1000:.0f} "
            f"linkdown_to_alert_s={alert_s:.2f} dropped={dropped:.0f}")


if __name__ == "__main__":
    main()
