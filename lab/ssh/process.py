"""Start `python -m lab.ssh.server` as a child process, for tests and benchmarks: `with running_lab(...) as lab`."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from lab.ssh.faults import Faults, write_faults

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class RunningSSHLab:
    port: int
    state_dir: Path
    username: str
    password: str
    addresses: dict[str, list[str]]
    pid: int

    def set_faults(self, faults: dict[str, Faults]) -> None:
        write_faults(self.state_dir, faults)
        time.sleep(1.5)  # the server polls once a second


@contextmanager
def running_lab(state_dir: Path, extra: list[str], port: int | None = None,
                timeout: float = 30.0) -> Iterator[RunningSSHLab]:
    port = port or random.randint(22000, 29999)
    password = f"lab-{random.randint(10**8, 10**9)}"
    secret = state_dir / "password"
    state_dir.mkdir(parents=True, exist_ok=True)
    secret.write_text(password)
    (state_dir / "ready.json").unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "lab.ssh.server", "--port", str(port), "--state-dir", str(state_dir),
           "--username", "lab", "--password-file", str(secret), *extra]
    log = (state_dir / "server.log").open("w")
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        deadline = time.monotonic() + timeout
        while not (state_dir / "ready.json").exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"ssh lab did not start: {(state_dir / 'server.log').read_text()[-2000:]}")
            time.sleep(0.1)
        ready = json.loads((state_dir / "ready.json").read_text())
        yield RunningSSHLab(port, state_dir, "lab", password, ready["devices"], proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
