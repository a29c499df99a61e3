"""The API keeps the contract its OpenAPI document states: schemathesis (`--checks all`) against `yiwang run` on the
small lab, authenticated, once per kind of caller whose endpoints differ. Any finding fails the test with
schemathesis' own report."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab import lab_inventory_dir
from lab.city import HOSTILE_DEVICE
from tests.e2e.conftest import api_token, free_tcp_port, start_run, stop_run, wait_for_api, write_config

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
    # a state folder of its own: the backups these make must not be the lab's archive other tests read
    config = write_config(work / "yiwang.yaml", work / "state", inventory=[str(lab_inventory_dir(lab_state))],
                          database_url=f"sqlite:///{work / 'y.sqlite'}",
                          api={"port": port}, audit={"path": str(work / "audit.jsonl")}, ssh={"enabled": False})
    log = work / "yiwang.log"
    process = start_run(config, log, env={"XDG_STATE_HOME": str(work / "x")})
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_api(url, process, log)
        yield url, config
    finally:
        stop_run(process)
    assert "Traceback" not in log.read_text(), log.read_text()[-3000:]


@pytest.mark.parametrize(("roles", "operations"), [
    # everyone but the account manager and the auditor: every monitoring, alerting, archive and job endpoint (not
    # the overview stream: it never ends by design, and its opening is tested in tests/e2e/test_overview_api.py)
    (("viewer", "operator", "engineer", "approver"),
     r"^/(api/(?!users|tokens|audit|auth/login|overview/stream)|metrics)"),
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
        [SCHEMATHESIS, "--config-file", str(config_file), "run", f"{url}/openapi.json", "--checks", "all",
         "--header", f"Authorization: Bearer {token}", "--include-path-regex", operations,
         "--max-examples", "30", "--seed", "2026", "--workers", "1",
         "--request-timeout", "10", "--report-dir", str(tmp_path), "--output-truncate", "true"],
        capture_output=True, text=True, timeout=900, cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-8000:] + done.stderr[-2000:]
