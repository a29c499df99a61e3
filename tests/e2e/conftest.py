"""The small lab (one county, on the lab's responder) shared by the end-to-end tests, and yiwang set up to poll it."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from alerts.rules import DEFAULT_RULES
from lab import lab_down, lab_up


@pytest.fixture(scope="session")
def lab_state(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    state = tmp_path_factory.mktemp("lab-state")
    # A random port, so a developer's own lab on 161 (same addresses) is left alone.
    lab_up(state, profile="small", seed=2026, port=random.randint(20000, 29999))
    try:
        yield state
    finally:
        lab_down(state)


def free_tcp_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_config(path: Path, state_dir: Path, **extra: object) -> Path:
    document = {"state_dir": str(state_dir), "poll": {"interval_s": 3, "icmp_interval_s": 3, "timeout_s": 1,
                                                      "retries": 1, "icmp_count": 1}}
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(document.get(key), dict):
            document[key] = {**document[key], **value}  # type: ignore[dict-item]
        else:
            document[key] = value
    path.write_text(yaml.safe_dump(document))
    return path


def api_token(config: Path, *roles: str, name: str = "tests", expires: str | None = None) -> str:
    """A token made the way an administrator makes one: `yiwang auth token create`, whose stdout is the token."""
    command = [sys.executable, "-m", "yiwang", "auth", "token", "create", name, "-c", str(config)]
    for role in roles or ("viewer", "operator", "engineer", "approver"):
        command += ["--role", role]
    if expires is not None:
        command += ["--expires", expires]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def api_client(base_url: str, token: str, **kwargs: object) -> httpx.Client:
    return httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, **kwargs)  # type: ignore[arg-type]


def start_run(config: Path, log: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """`yiwang run -c config ARGS`, its output in `log`."""
    with open(log, "wb") as out:
        return subprocess.Popen([sys.executable, "-m", "yiwang", "run", "-c", str(config), *args], stdout=out,
                                stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})


def wait_for_api(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 60,
                 **kwargs: Any) -> None:
    """Until the API answers (its OpenAPI document); fails with the log's tail if the run ends first."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{url}/openapi.json", **kwargs).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline and process.poll() is None, log.read_text()[-3000:]
        time.sleep(0.3)


def stop_run(process: subprocess.Popen[bytes], timeout: float = 60) -> int:
    process.send_signal(signal.SIGTERM)
    return process.wait(timeout=timeout)


def immediate_rules(path: Path, held: Mapping[str, str] | None = None) -> Path:
    """The shipped rules without their `for` delays, written to `path`, so a test needs a cycle rather than minutes.
    Absence keeps its duration (that is what defines it). Not the error-rate rule: the lab's trickle of errors (up
    to 0.02/s) reads as 1/s and more when two polls of a device come within a second of each other, as back-to-back
    test cycles on a loaded machine can; its `for` is what keeps that from firing in production. `held`: rule name
    -> the `for` it keeps instead (a cluster's tests hold device_unreachable for a few slots, as production does)."""
    rules = yaml.safe_load(DEFAULT_RULES.read_text())
    rules["rules"] = [r for r in rules["rules"] if r["name"] != "interface_errors_rising"]
    for rule in rules["rules"]:
        if rule["kind"] != "absent":
            rule["for"] = (held or {}).get(rule["name"], "0s")
    path.write_text(yaml.safe_dump(rules))
    return path
