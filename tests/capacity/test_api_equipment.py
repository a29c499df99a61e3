"""`GET /api/capacity/equipment` of a real `yiwang run` (no lab: its devices do not answer, so the report is the
inventory and the versions an earlier run stored): JSON and CSV, an area, a reader's token, and a lifecycle file
broken while the process runs (it is read on each request: a 409 naming the line, not a 500)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from tests.capacity.test_cli_equipment import INVENTORY, _lifecycle
from tests.e2e.conftest import api_client, api_token, free_tcp_port, start_run, stop_run, wait_for_api, write_config
from yiwang.store import open_store
from yiwang.versions import KnownVersion, VersionStore

pytestmark = pytest.mark.integration


class Running:
    def __init__(self, state: Path, url: str, token: str) -> None:
        self.state, self.url, self.token = state, url, token


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    state = tmp_path_factory.mktemp("capacity-api")
    (state / "inventory").mkdir()
    # the devices' addresses on loopback answer nothing: polls fail fast, which is not what is tested here
    (state / "inventory" / "inventory.yaml").write_text(yaml.safe_dump(INVENTORY, allow_unicode=True))
    (state / "lifecycle.yaml").write_text(yaml.safe_dump(_lifecycle()))
    VersionStore(open_store(f"sqlite:///{state}/yiwang.sqlite").engine).record({
        "c1-sw1": KnownVersion("15.2(7)E4", "C2960X-24TS-L", 100.0),
        "c1-r1": KnownVersion("16.9.4", "ISR4331", 100.0)})
    port = free_tcp_port()
    config = write_config(state / "yiwang.yaml", state, api={"port": port}, ssh={"interval_s": 3600},
                          audit={"path": str(state / "audit.jsonl")},
                          capacity={"lifecycle_file": str(state / "lifecycle.yaml")})
    token = api_token(config, "viewer")
    log = state / "run.log"
    process = start_run(config, log)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_api(url, process, log)
        yield Running(state, url, token)
    finally:
        if process.poll() is None:
            stop_run(process)
    assert "Traceback" not in log.read_text(), log.read_text()[-3000:]


def test_json_for_a_reader(running: Running) -> None:
    with api_client(running.url, running.token, timeout=30) as client:
        found = client.get("/api/capacity/equipment").json()
    assert found["devices"] == 5 and found["lifecycle_file"] is True
    counts = {(m["county"], m["model"]): m["count"] for m in found["models"]}
    # c1-sw2, c2-agg and c2-new have no stored reading: three unknown models, in their two counties
    assert counts == {("hb.hg.c1", "C2960X-24TS-L"): 1, ("hb.hg.c1", "ISR4331"): 1, ("hb.hg.c1", None): 1,
                      ("hb.hg.c2", None): 2}
    assert [(r["device"], r["status"]) for r in found["replacements"]] == [("c1-sw1", "eol-passed"),
                                                                           ("c1-r1", "eol-within-12-months")]
    assert httpx.get(f"{running.url}/api/capacity/equipment", timeout=30).status_code == 401


def test_csv_of_an_area_and_an_unknown_area(running: Running) -> None:
    with api_client(running.url, running.token, timeout=30) as client:
        answer = client.get("/api/capacity/equipment", params={"area": "hb.hg.c2", "format": "csv"})
        missing = client.get("/api/capacity/equipment", params={"area": "nowhere"})
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    assert [r["device"] for r in csv.DictReader(io.StringIO(answer.text))] == ["c2-agg", "c2-new"]
    assert missing.status_code == 404


def test_a_lifecycle_file_broken_while_running_is_a_409_naming_the_line(running: Running) -> None:
    lifecycle = running.state / "lifecycle.yaml"
    good = lifecycle.read_text()
    lifecycle.write_text("- {platform: junos, model: MX204, end_of_sale: 2020-01-01, end_of_life: 2021-01-01, "
                         "source: n}\n")
    try:
        with api_client(running.url, running.token, timeout=30) as client:
            answer = client.get("/api/capacity/equipment")
    finally:
        lifecycle.write_text(good)
    assert answer.status_code == 409
    assert answer.json()["detail"] == (f"the lifecycle file cannot be used: {lifecycle}:1: entry 1 (MX204): "
                                       "platform: 'junos' is not one of huawei_vrp, hp_comware, ruijie_os, cisco_ios")
