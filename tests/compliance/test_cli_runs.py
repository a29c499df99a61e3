"""`yiwang check compliance --run-now` as a person runs it, over a real git archive and a SQLite file, without the
lab: the CSV it prints, the firmware versions it reads, and two runs at once."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import yaml

from inventory.loader import load_inventory
from yiwang.archive.git import GitArchive
from yiwang.compliance import report
from yiwang.compliance.history import ComplianceHistory
from yiwang.compliance.run import rule_pack
from yiwang.config import ComplianceSettings
from yiwang.store import open_store
from yiwang.versions import KnownVersion, VersionStore

CASES = Path(__file__).parent / "cases"
ROOT = Path(__file__).parents[2]
INVENTORY = {
    "areas": [{"id": "hb", "name": "湖北", "level": "province"},
              {"id": "hb.hg", "name": "黄冈", "level": "city", "parent": "hb"},
              {"id": "hb.hg.c1", "name": "黄州区", "level": "county", "parent": "hb.hg"}],
    "devices": [{"name": "c1-agg", "platform": "huawei_vrp", "role": "aggregation", "area": "hb.hg.c1",
                 "address": "127.0.0.1"},
                {"name": "c1-sw", "platform": "cisco_ios", "role": "access", "area": "hb.hg.c1",
                 "address": "127.0.0.2"}]}


def _state(tmp_path: Path, **extra: object) -> Path:
    """A state folder with the inventory, the two devices' configurations archived, and yiwang.yaml."""
    (tmp_path / "inventory").mkdir()
    (tmp_path / "inventory" / "inventory.yaml").write_text(yaml.safe_dump(INVENTORY, allow_unicode=True))
    git = GitArchive(tmp_path / "configs")
    now = datetime.now(UTC)
    git.store("c1-agg", (CASES / "huawei_vrp" / "hardened" / "config.txt").read_text(), now)
    git.store("c1-sw", (CASES / "cisco_ios" / "neglected" / "config.txt").read_text(), now)
    config = tmp_path / "yiwang.yaml"
    config.write_text(yaml.safe_dump({"state_dir": str(tmp_path), "database_url": f"sqlite:///{tmp_path}/y.db",
                                      "audit": {"path": str(tmp_path / "audit.jsonl")}, **extra}))
    return config


def _command(config: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "yiwang", *args, "-c", str(config)]


ENV = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "COLUMNS": "200"}


def _yiwang(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(_command(config, *args), capture_output=True, text=True, timeout=120, env=ENV)


def test_the_csv_of_the_command_line_is_the_apis(tmp_path: Path) -> None:
    config = _state(tmp_path)
    done = subprocess.run(_command(config, "check", "compliance", "--run-now", "--csv"), capture_output=True,
                          timeout=120, env=ENV)  # bytes: the CSV's line ends are CRLF, as the API sends them
    assert done.returncode == 0, done.stderr
    history = ComplianceHistory(open_store(f"sqlite:///{tmp_path}/y.db").engine)
    run = history.latest_run()
    assert run is not None
    inventory = load_inventory([tmp_path / "inventory"]).inventory
    api = report.csv_text(inventory, rule_pack(ComplianceSettings()), history.results(run.id), with_evidence=True)
    assert done.stdout == api.encode()
    rows = api.splitlines()
    assert rows[0] == ",".join(report.CSV_COLUMNS) and len(rows) == 1 + 2 * 17
    assert any(r.startswith("c1-sw,cisco_ios,湖北 / 黄冈 / 黄州区,insecure-services-off,") and "18: ip http server" in r
               for r in rows)


def test_a_run_from_the_command_line_judges_firmware_by_the_versions_yiwang_run_stored(tmp_path: Path) -> None:
    advisories = tmp_path / "advisories.yaml"
    advisories.write_text(yaml.safe_dump([{"id": "hw-sa-1", "platform": "huawei_vrp", "severity": "critical",
                                           "title": "a test advisory",
                                           "affected": [{"from": "V200R019C00SPC100", "to": "V200R019C10SPC900"}]}]))
    config = _state(tmp_path, compliance={"advisories": str(advisories)})
    read_at = time.time() - 26 * 3600
    # what the SSH cycles of a `yiwang run` on this database wrote (the store opened as that process opens it)
    VersionStore(open_store(f"sqlite:///{tmp_path}/y.db").engine).record(
        {"c1-agg": KnownVersion("V200R019C10SPC500", "S5735-L", read_at)})
    done = _yiwang(config, "check", "compliance", "--run-now", "--rule", "firmware-advisory", "--json")
    assert done.returncode == 0, done.stderr
    found = {d["device"]: d["results"] for d in json.loads(done.stdout)}
    agg, sw = found["c1-agg"][0], found["c1-sw"][0]
    assert agg["status"] == "fail" and agg["severity"] == "critical" and "hw-sa-1" in agg["detail"]
    stamp = datetime.fromtimestamp(read_at, UTC).strftime("%Y-%m-%d %H:%M UTC")
    assert agg["detail"].endswith(f"(the version the SSH collector read 26.0 h ago ({stamp}))"), agg["detail"]
    assert sw["status"] == "error" and sw["detail"] == "no software version has been read over SSH"


def test_two_runs_at_once_on_one_sqlite_file_both_store_one_after_the_other(tmp_path: Path) -> None:
    # enough devices that each run spends a while writing its ~20k results: the two writes overlap
    many = [{"name": f"sw{n:04d}", "platform": "cisco_ios", "role": "access", "area": "hb.hg.c1",
             "address": f"127.1.{n // 250}.{n % 250 + 1}"} for n in range(1200)]
    config = _state(tmp_path)
    (tmp_path / "inventory" / "inventory.yaml").write_text(yaml.safe_dump(
        {**INVENTORY, "devices": INVENTORY["devices"] + many}, allow_unicode=True))
    open_store(f"sqlite:///{tmp_path}/y.db").engine.dispose()  # the schema made before, as `yiwang run` would have
    command = _command(config, "check", "compliance", "--run-now", "--device", "c1-agg", "--json")
    runs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
            for _ in range(2)]
    outcomes = [run.communicate(timeout=300) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], [err for _, err in outcomes]
    history = ComplianceHistory(open_store(f"sqlite:///{tmp_path}/y.db").engine)
    first, second = sorted(history.runs(), key=lambda r: r.id)
    assert first.devices == second.devices == 1202
    # the second stored after the first and saw its rows: the same results, nothing changed, nothing duplicated
    assert first.changed == 1202 * 17 and second.changed == 0
    assert len(history.results(second.id)) == 1202 * 17
