"""The API keeps the contract its OpenAPI document states: schemathesis (`--checks all`) against `yiwang run` on the
small lab, authenticated, once per kind of caller whose endpoints differ. Any finding fails the test with
schemathesis' own report."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from lab.city import HOSTILE_DEVICE
from tests.e2e.conftest import api_token, free_tcp_port, write_config

SCHEMATHESIS = shutil.which("schemathesis") or str(Path(sys.executable).parent / "schemathesis")

# Real names from the lab, so that requests reach the routes' logic instead of their 404s. And one allowance, the
# only one: a silence's window must end after it starts and fit in 1677-2262, which JSON Schema cannot say of two
# date-times; the 422 that refuses it is documented on those two routes.
CONFIG = """
[parameters]
"path.name" = "{device}"
"path.device" = "{device}"
"path.area_id" = "hb.hg"

[[operations]]
include-path-regex = "^/api/(silences|maintenance)$"
include-method = "POST"
checks.positive_data_acceptance.expected-statuses = ["2xx", "401", "403", "404", "409", "422"]
"""


@pytest.fixture(scope="module")
def api(lab_state: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    work = tmp_path_factory.mktemp("contract")
    port = free_tcp_port()
    config = write_config(work / "yiwang.yaml", lab_state, database_url=f"sqlite:///{work / 'y.sqlite'}",
                          api={"port": port}, audit={"path": str(work / "audit.jsonl")}, ssh={"enabled": False})
    log = work / "yiwang.log"
    with open(log, "wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "yiwang", "run", "-c", str(config)], stdout=out,
                                   stderr=subprocess.STDOUT, env={**os.environ, "XDG_STATE_HOME": str(work / "x")})
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/openapi.json").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline and process.poll() is None, log.read_text()[-3000:]
            time.sleep(0.3)
        yield url, config
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    assert "Traceback" not in log.read_text(), log.read_text()[-3000:]


@pytest.mark.parametrize(("roles", "operations"), [
    # everyone but the account manager and the auditor: every monitoring, alerting, archive and job endpoint
    (("viewer", "operator", "engineer", "approver"), r"^/(api/(?!users|tokens|audit|auth/login)|metrics)"),
    (("admin",), r"^/api/(users|tokens)"),
    (("auditor",), r"^/api/audit"),
], ids=["operations", "admin", "auditor"])
def test_schemathesis_finds_nothing(api: tuple[str, Path], tmp_path: Path, roles: tuple[str, ...],
                                    operations: str) -> None:
    url, config = api
    token = api_token(config, *roles, name=f"schemathesis-{roles[0]}")
    config_file = tmp_path / "schemathesis.toml"
    config_file.write_text(CONFIG.format(device=HOSTILE_DEVICE))
    done = subprocess.run(
        [SCHEMATHESIS, "--config-file", str(config_file), "run", f"{url}/openapi.json", "--checks", "all", "--header", f"Authorization: Bearer {token}",
         "--include-path-regex", operations, "--max-examples", "30", "--seed", "2026", "--workers", "1",
         "--request-timeout", "10", "--report-dir", str(tmp_path), "--output-truncate", "true"],
        capture_output=True, text=True, timeout=900, cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-8000:] + done.stderr[-2000:]
