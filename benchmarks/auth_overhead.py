"""What does authentication cost a request? `yiwang run` on the small lab, `GET /api/areas?depth=1` driven by
ApacheBench (`ab`, Debian's apache2-utils: a C client, so the client is not what is measured) over keep-alive
connections, once with an API token and once with authentication turned off, in alternating rounds of the same
run so that both see the same machine.

Run from the repository root (`apt-get install apache2-utils` first):  python benchmarks/auth_overhead.py

The token path: the first request verifies the token's Argon2id hash (tens of ms); later ones find it in the
service's cache (keyed by the token's SHA-256) and re-read nothing for a minute. Last line:
    rps_auth=... rps_open=... ratio=...     (target: ratio >= 0.9)
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import yaml

from lab import lab_down, lab_up
from lab.peers import free_port

PATH = "/api/areas?depth=1"


def start(config: Path, log: Path) -> subprocess.Popen[bytes]:
    with open(log, "wb") as out:
        return subprocess.Popen([sys.executable, "-m", "yiwang", "run", "-c", str(config)], stdout=out,
                                stderr=subprocess.STDOUT, env={**os.environ, "PYTHONPATH": str(Path.cwd())})


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def wait_ready(port: int, headers: dict[str, str], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        request = urllib.request.Request(f"http://127.0.0.1:{port}/api/areas?depth=0", headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - our loopback API
                if json.loads(response.read())[0]["status"] != "unknown":
                    return
        except (urllib.error.URLError, OSError, ValueError, KeyError, IndexError):
            pass
        time.sleep(0.5)
    raise SystemExit(f"yiwang on port {port} never answered with a polled tree")


def ab(port: int, seconds: float, concurrency: int, token: str | None) -> float:
    command = ["ab", "-q", "-k", "-c", str(concurrency), "-t", str(seconds), "-n", "10000000"]
    if token is not None:
        command += ["-H", f"Authorization: Bearer {token}"]
    done = subprocess.run([*command, f"http://127.0.0.1:{port}{PATH}"], capture_output=True, text=True,
                          timeout=seconds + 60)
    rps = re.search(r"Requests per second:\s+([\d.]+)", done.stdout)
    failed = re.search(r"Non-2xx responses:\s+(\d+)", done.stdout)
    if rps is None or failed is not None:
        raise SystemExit(f"ab failed or got refusals:\n{done.stdout[-1500:]}\n{done.stderr[-500:]}")
    return float(rps[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0, help="per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    if shutil.which("ab") is None:
        sys.exit("needs ApacheBench: apt-get install apache2-utils")
    with tempfile.TemporaryDirectory(prefix="auth-overhead-") as tmp:
        work = Path(tmp)
        lab_state = work / "lab"
        status = lab_up(lab_state, profile="small", port=random.randint(30000, 39999))
        print(f"lab: {status.devices} devices up", flush=True)
        try:
            print(run(lab_state, work, args.seconds, args.rounds, args.concurrency), flush=True)
        finally:
            lab_down(lab_state)


def run(lab_state: Path, work: Path, seconds: float, rounds: int, concurrency: int) -> str:
    ports = {"auth": free_port(), "open": free_port()}
    configs = {}
    for name, port in ports.items():
        config = work / f"{name}.yaml"
        config.write_text(yaml.safe_dump({
            "state_dir": str(lab_state), "database_url": f"sqlite:///{work}/{name}.db", "api": {"port": port},
            "auth": {"enabled": name == "auth"}, "audit": {"path": str(work / f"{name}-audit.jsonl")},
            "ssh": {"enabled": False}, "archive": {"enabled": False}}))
        configs[name] = config
    created = subprocess.run([sys.executable, "-m", "yiwang", "auth", "token", "create", "bench", "--role", "viewer",
                              "-c", str(configs["auth"])], capture_output=True, text=True, check=True)
    token = created.stdout.strip()
    processes = {name: start(configs[name], work / f"{name}.log") for name in ports}
    results: dict[str, list[float]] = {"auth": [], "open": []}
    try:
        wait_ready(ports["auth"], {"Authorization": f"Bearer {token}"})
        wait_ready(ports["open"], {})
        for round_no in range(rounds):
            order = ("auth", "open") if round_no % 2 == 0 else ("open", "auth")
            for name in order:
                rps = ab(ports[name], seconds, concurrency, token if name == "auth" else None)
                results[name].append(rps)
                print(f"round {round_no + 1} {name}: {rps:.0f} requests/s", flush=True)
    finally:
        for process in processes.values():
            stop(process)
    auth, open_ = (sum(results[n]) / len(results[n]) for n in ("auth", "open"))
    return f"rps_auth={auth:.0f} rps_open={open_:.0f} ratio={auth / open_:.2f}"


if __name__ == "__main__":
    main()
