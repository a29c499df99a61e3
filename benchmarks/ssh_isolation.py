"""Does SSH work starve the API and the ICMP cycles? `yiwang run` on the simulated city, one full SSH facts cycle and
one full-city backup, with netmiko in worker processes (the design now) and as threads of the API's process (before).

Run as root, from the repository root:  python benchmarks/ssh_isolation.py [--ssh-devices N] [--designs ...]

For each design it starts `python -m yiwang run -c <config>` against the same lab, polls `GET /api/areas?depth=2`
every 0.5 s, samples the API process's CPU and reads yiwang's log: ICMP cycle starts (each is due 30 s after the one
before; more than 2 s after is late), the SSH facts cycle and the backup. The figures cover the window from the start
of the SSH facts cycle to the end of the backup; the `none` design (no SSH at all, a window as long as --control-s
after the first SNMP cycle) shows what the machine gives without SSH. Last lines, threads then processes:
    devices=... ssh_wall_s=... api_p99_ms=... icmp_late_cycles=... backup_failed=...
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil
import yaml

from lab import lab_down, lab_up
from yiwang.config import default_inventory_dir

ROOT = Path(__file__).resolve().parents[1]
ICMP_INTERVAL_S = 30.0
LATE_S = 2.0
API_EVERY_S = 0.5
API_TIMEOUT_S = 30.0
STAMP = r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) \S+ \S+: "
# "started L s late" is logged by the pipeline Monitor; without it lateness is computed from the cycle starts.
CYCLE = re.compile(STAMP + r"(\w+) cycle: (\d+) devices, (\d+) failed, \d+ varbinds in ([\d.]+) s"
                           r"(?:, started ([\d.]+) s late)?")
BACKUP = re.compile(STAMP + r"configuration backup: (\d+) devices, (\d+) ok, (\d+) failed")
# one facts cycle and one backup in the window: the next of each is hours away
DESIGNS: dict[str, dict[str, Any]] = {
    "none": {"ssh": {"enabled": False}, "archive": {"enabled": False}},
    "threads": {"ssh": {"interval_s": 21600, "processes": 0}, "archive": {"interval_s": 21600}},
    "processes": {"ssh": {"interval_s": 21600, "processes": 1}, "archive": {"interval_s": 21600}},
}


@dataclass
class Cycle:
    collector: str
    start: float
    end: float
    devices: int
    failed: int
    late: float | None = None  # as logged


@dataclass
class Run:
    design: str
    cycles: list[Cycle] = field(default_factory=list)
    backup: tuple[float, int, int] | None = None  # end, devices, failed
    api: list[tuple[float, float]] = field(default_factory=list)  # (sent at, seconds; API_TIMEOUT_S on failure)
    api_errors: int = 0
    cpu: list[tuple[float, float, float]] = field(default_factory=list)  # (at, API process, its children) seconds
    control_s: float = 0.0

    def of(self, collector: str) -> list[Cycle]:
        return [c for c in self.cycles if c.collector == collector]

    def window(self) -> tuple[float, float] | None:
        """From the start of the SSH facts cycle to the end of the backup (`none`: after the first SNMP cycle)."""
        if self.design == "none":
            snmp = self.of("snmp")
            return (snmp[0].end, snmp[0].end + self.control_s) if snmp else None
        ssh = self.of("ssh")
        return (ssh[0].start, self.backup[0]) if ssh and self.backup else None

    def finished(self) -> bool:
        window = self.window()
        return window is not None and time.time() > window[1] + 2 * ICMP_INTERVAL_S  # the ICMP cycles due at its end

    def cpu_in(self, window: tuple[float, float]) -> tuple[float, float]:
        inside = [c for c in self.cpu if window[0] <= c[0] <= window[1]]
        if len(inside) < 2:
            return float("nan"), float("nan")
        return inside[-1][1] - inside[0][1], inside[-1][2] - inside[0][2]


def _epoch(stamp: str) -> float:
    return datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f").timestamp()  # logging's asctime: local time


def read_log(text: str, run: Run) -> None:
    for line in text.splitlines():
        if found := CYCLE.match(line):
            end, duration = _epoch(found[1]), float(found[5])
            late = float(found[6]) if found[6] is not None else None
            run.cycles.append(Cycle(found[2], end - duration, end, int(found[3]), int(found[4]), late))
        elif found := BACKUP.match(line):
            run.backup = (_epoch(found[1]), int(found[2]), int(found[4]))


def late_icmp_starts(run: Run, window: tuple[float, float]) -> list[float]:
    """Lateness of every ICMP cycle that was due inside the window."""
    cycles = run.of("icmp")
    lateness = []
    for before, after in zip(cycles, cycles[1:], strict=False):
        due = before.start + ICMP_INTERVAL_S
        if window[0] <= due <= window[1]:
            lateness.append(after.late if after.late is not None else after.start - due)
    return lateness


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def poll_api(url: str, stop: threading.Event, run: Run) -> None:
    next_at = time.monotonic()
    while not stop.is_set():
        sent = time.time()
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(url, timeout=API_TIMEOUT_S) as response:  # noqa: S310 - our own loopback API
                response.read()
            run.api.append((sent, time.perf_counter() - started))
        except OSError:
            run.api_errors += 1
            run.api.append((sent, API_TIMEOUT_S))
        next_at = max(next_at + API_EVERY_S, time.monotonic())
        stop.wait(max(0.0, next_at - time.monotonic()))


def inventory_with_ssh_on(lab_inventory: Path, out: Path, ssh_devices: int) -> Path:
    """A copy of the lab's inventory where only the first `ssh_devices` network devices keep their SSH access."""
    shutil.copytree(lab_inventory, out)
    document = yaml.safe_load((out / "devices.yaml").read_text(encoding="utf-8"))
    kept = 0
    for device in document["devices"]:
        if "ssh" in device:
            kept += 1
            if kept > ssh_devices:
                del device["ssh"]
    (out / "devices.yaml").write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return out


def sample_cpu(pid: int, stop: threading.Event, run: Run) -> None:
    parent = psutil.Process(pid)
    while not stop.is_set():
        try:
            own = parent.cpu_times()
            children = 0.0
            for child in parent.children(recursive=True):
                try:
                    times = child.cpu_times()
                    children += times.user + times.system
                except psutil.NoSuchProcess:
                    pass
            run.cpu.append((time.time(), own.user + own.system, children))
        except psutil.NoSuchProcess:
            return
        stop.wait(1.0)


def one_run(design: str, workers: int, inventory: Path, work: Path, timeout_s: float, control_s: float) -> Run:
    run = Run(design, control_s=control_s)
    state = work / design
    state.mkdir(parents=True)
    port = free_port()
    config = state / "yiwang.yaml"
    document: dict[str, Any] = {"state_dir": str(state), "inventory": [str(inventory)], "api": {"port": port},
                                "auth": {"enabled": False},  # monitoring latency, not auth: see auth_overhead.py
                                **DESIGNS[design]}
    if design != "none":
        document["ssh"] = {**document["ssh"], "workers": workers}
    config.write_text(yaml.safe_dump(document))
    log_path = state / "yiwang.log"
    with log_path.open("w") as log:
        process = subprocess.Popen([sys.executable, "-m", "yiwang", "run", "-c", str(config)], cwd=ROOT,
                                   stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ))
    stop = threading.Event()
    threads = [threading.Thread(target=poll_api, args=(f"http://127.0.0.1:{port}/api/areas?depth=2", stop, run),
                                daemon=True),
               threading.Thread(target=sample_cpu, args=(process.pid, stop, run), daemon=True)]
    try:
        _wait_for_api(port, process, log_path)
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and process.poll() is None:
            read_log(log_path.read_text(), run)
            if run.finished():
                break
            run.cycles.clear()
            time.sleep(2)
        else:
            print(f"{design}: the window did not close within {timeout_s:.0f} s; see {log_path}", file=sys.stderr)
    finally:
        stop.set()
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(120)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        for thread in threads:
            thread.join(API_TIMEOUT_S + 1)
    run.cycles.clear()
    read_log(log_path.read_text(), run)
    (state / "api.tsv").write_text("".join(f"{t:.3f}\t{s:.4f}\n" for t, s in run.api))
    (state / "cpu.tsv").write_text("".join(f"{t:.3f}\t{p:.2f}\t{c:.2f}\n" for t, p, c in run.cpu))
    return run


def _wait_for_api(port: int, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"yiwang run stopped: {log_path.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/areas?depth=0", timeout=5):  # noqa: S310
                return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError("the API did not answer within 300 s")


def report(run: Run) -> str:
    window = run.window()
    if window is None:
        return f"devices=0 ssh_wall_s=nan api_p99_ms=nan icmp_late_cycles=nan backup_failed=nan  # {run.design}: " \
               "the window never closed"
    inside = [s for t, s in run.api if window[0] <= t <= window[1]]
    late = late_icmp_starts(run, window)
    own_cpu, children_cpu = run.cpu_in(window)
    snmp = [c.end - c.start for c in run.of("snmp") if window[0] <= c.end <= window[1]]
    what = "no SSH"
    if run.design != "none" and run.backup is not None:
        facts = run.of("ssh")[0]
        what = (f"ssh facts {facts.end - facts.start:.1f} s ({facts.failed} failed), backup "
                f"{run.backup[0] - facts.end:.1f} s ({run.backup[2]} failed)")
    print(f"{run.design}: {what}; in the {window[1] - window[0]:.0f} s window: API {len(inside)} requests, p50 "
          f"{percentile(inside, 0.5) * 1000:.0f} ms, p99 {percentile(inside, 0.99) * 1000:.0f} ms, max "
          f"{max(inside, default=float('nan')) * 1000:.0f} ms, {sum(1 for s in inside if s >= API_TIMEOUT_S)} "
          f"timed out; ICMP cycles due {len(late)}, latest {max(late, default=0.0):.1f} s after due; SNMP cycles "
          f"{', '.join(f'{s:.0f}' for s in snmp)} s; CPU: API process {own_cpu:.0f} s, its child processes "
          f"{children_cpu:.0f} s; load average {os.getloadavg()[0]:.1f}", flush=True)
    if run.design == "none":
        devices, backup_failed = 0, 0
    else:
        devices, backup_failed = run.of("ssh")[0].devices, run.backup[2] if run.backup else -1
    return (f"devices={devices} ssh_wall_s={window[1] - window[0] if run.design != 'none' else 0.0:.1f} "
            f"api_p99_ms={percentile(inside, 0.99) * 1000:.0f} icmp_late_cycles={sum(1 for s in late if s > LATE_S)} "
            f"backup_failed={backup_failed}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--port", type=int, default=0, help="the lab's SNMP/SSH port (default: a random high one)")
    parser.add_argument("--ssh-devices", type=int, default=0, help="0: every network device of the city")
    parser.add_argument("--workers", type=int, default=8, help="SSH sessions at once (ssh.workers)")
    parser.add_argument("--timeout", type=float, default=7200, help="seconds to wait for each run's backup")
    parser.add_argument("--designs", default="none,threads,processes",
                        help="which of none (no SSH), threads and processes to run, in this order")
    parser.add_argument("--control-s", type=float, default=1200, help="the window of the `none` design")
    parser.add_argument("--keep", type=Path, help="an empty folder to work in and keep (logs, configs)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root: ICMP to the lab's addresses needs raw sockets")
    with tempfile.TemporaryDirectory(prefix="ssh-isolation-") as tmp:
        work = args.keep or Path(tmp)
        lab_state = work / "lab"
        started = time.monotonic()
        status = lab_up(lab_state, profile="city", port=args.port or random.randint(30000, 39999))
        print(f"lab: {status.devices} devices up in {time.monotonic() - started:.0f} s", flush=True)
        try:
            inventory = default_inventory_dir(lab_state)
            if args.ssh_devices:
                inventory = inventory_with_ssh_on(inventory, work / "inventory", args.ssh_devices)
            lines = {}
            for design in DESIGNS:
                if design in args.designs.split(","):
                    run = one_run(design, args.workers, inventory, work, args.timeout, args.control_s)
                    lines[design] = report(run)
        finally:
            lab_down(lab_state)
    print(", then ".join({"none": "no SSH", "threads": "SSH as threads of the API's process (before)",
                          "processes": "SSH in worker processes (now)"}[d] for d in lines) + ":")
    for line in lines.values():
        print(line)


if __name__ == "__main__":
    main()
