"""Compliance runs in SQL, on SQLite and PostgreSQL: two runs, the results of each, the trend, the changes, pruning."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from yiwang.compliance.history import ComplianceHistory, RunConflict, StoredResult
from yiwang.compliance.model import Evidence, RuleResult
from yiwang.store import open_store

PATH_A = ("city", "county_1", "town_1")
PATH_B = ("city", "county_2", "town_2")


def _results(ntp_on_a: bool, age: str) -> list[StoredResult]:
    ntp = (RuleResult("ntp-server", "pass") if ntp_on_a else
           RuleResult("ntp-server", "fail", (Evidence(missing=None, is_missing=True),),
                      ("ntp-service unicast-server <NTP>",)))
    return [
        StoredResult.of("a", "huawei_vrp", PATH_A, ntp),
        StoredResult.of("a", "huawei_vrp", PATH_A, RuleResult("config-backup-fresh", "pass",
                                                              detail=f"last good backup {age} h ago")),
        StoredResult.of("b", "cisco_ios", PATH_B, RuleResult("ntp-server", "fail", (Evidence(7, "ntp server x"),),
                                                             severity="medium")),
        StoredResult.of("b", "cisco_ios", PATH_B, RuleResult("mgmt-acl", "pass")),
    ]


def test_two_runs_their_results_trend_and_changes(database_url: str) -> None:
    store = open_store(database_url)
    history = ComplianceHistory(store.engine)
    assert history.latest_run() is None and history.results() == [] and history.changes() is None
    day1 = (datetime.now() - timedelta(days=1)).timestamp()
    first = history.record_run(day1, day1 + 1, "backup", "d1", 3, _results(ntp_on_a=False, age="1"))
    assert (first.devices, first.failed, first.changed) == (2, 2, 4)
    now = datetime.now().timestamp()
    second = history.record_run(now, now + 1, "manual", "d1", 3, _results(ntp_on_a=True, age="2"))
    # only a's ntp-server and its backup age changed: two rows written, not four
    assert (second.failed, second.changed) == (1, 2)

    latest = history.results()
    assert [(r.device, r.rule, r.status) for r in latest] == [
        ("a", "ntp-server", "pass"), ("a", "config-backup-fresh", "pass"), ("b", "ntp-server", "fail"),
        ("b", "mgmt-acl", "pass")]
    old = history.results(first.id, area="county_1")
    assert [(r.rule, r.status) for r in old] == [("ntp-server", "fail"), ("config-backup-fresh", "pass")]
    assert old[0].as_json() == {"rule": "ntp-server", "status": "fail", "evidence": [{"missing": None}],
                                "remediation": ["ntp-service unicast-server <NTP>"], "severity": "medium"}
    assert old[1].detail == "last good backup 1 h ago"
    assert history.results(status="fail", device="b")[0].evidence == ({"line": 7, "text": "ntp server x"},)
    assert history.results(area="county") == []  # a subtree, not a prefix of an id
    assert [r.area_path for r in history.results(area="town_2")] == [PATH_B, PATH_B]

    changes = history.changes()
    assert changes is not None and (changes.run, changes.previous) == (second.id, first.id)
    assert changes.fixed == (("a", "ntp-server"),) and changes.newly_failing == ()
    assert history.changes(first.id) is not None and history.changes(first.id).newly_failing == (  # type: ignore[union-attr]
        ("a", "ntp-server"), ("b", "ntp-server"))

    trend = history.trend(days=30)
    assert [(p.run, p.rule, p.failing) for p in trend] == [(first.id, "ntp-server", 2), (second.id, "ntp-server", 1)]
    assert [(p.run, p.failing) for p in history.trend(area="county_1", rule="ntp-server")] == [(first.id, 1)]

    # pruning the first run keeps the rows that still hold, though they began with it
    assert history.prune(keep_days=0.5, now=now) == 1
    assert [r.id for r in history.runs()] == [second.id]
    assert [(r.device, r.rule, r.status) for r in history.results()] == [
        (r.device, r.rule, r.status) for r in latest]
    store.engine.dispose()


def test_a_run_that_cannot_get_sqlites_write_lock_in_time_says_so_and_stores_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sqlite3

    from yiwang.compliance import history as history_module

    url = f"sqlite:///{tmp_path / 'y.db'}"
    history = ComplianceHistory(open_store(url).engine)
    other = sqlite3.connect(tmp_path / "y.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another run, writing its results
    monkeypatch.setattr(history_module, "SQLITE_WAIT_S", 0.3)
    now = datetime.now().timestamp()
    clock = time.monotonic()
    with pytest.raises(RunConflict, match="another compliance run kept the database locked for more than 0.3 s"):
        history.record_run(now, now + 1, "manual", "d1", 3, _results(ntp_on_a=True, age="1"))
    assert 0.25 < time.monotonic() - clock < 5  # it waited, then gave up
    other.rollback()
    assert history.runs() == []
    with history.engine.connect() as conn:  # the connection went back to the pool with its own busy timeout
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000
    assert history.record_run(now, now + 1, "manual", "d1", 3, _results(ntp_on_a=True, age="1")).changed == 4
