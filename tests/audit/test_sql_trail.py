"""The audit trail in the SQL store (cores on several machines sharing PostgreSQL): one chain from concurrent
writers, tampering seen by the same check as the file's, the same queries, and the same copy to syslog."""

from __future__ import annotations

import json
import multiprocessing
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.audit.conftest import event
from tests.audit.rsyslog import Rsyslog
from tests.audit.test_cli import cli, configure
from tests.audit.workers import append_many_sql
from tests.store.postgres import Cluster
from yiwang.audit import AuditRecord, AuditTrail, SyslogForwarder
from yiwang.audit.sql import SqlAuditTrail, open_trail, trail_in_database
from yiwang.config import Settings, SyslogSettings
from yiwang.schema import audit_head, audit_records
from yiwang.store import open_store


@pytest.fixture
def engine(database_url: str) -> Iterator[sa.Engine]:
    store = open_store(database_url)
    yield store.engine
    store.close()


def test_two_processes_append_into_one_chain_on_postgresql(postgres: Cluster) -> None:
    url = postgres.new_database()
    store = open_store(url)
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=append_many_sql, args=(url, w, 100)) for w in range(2)]
    for p in workers:
        p.start()
    for p in workers:
        p.join(120)
        assert p.exitcode == 0
    result = SqlAuditTrail(store.engine).verify()
    assert (result.ok, result.records, result.reason) == (True, 200, "chain intact"), result
    with store.engine.connect() as conn:
        lines = [json.loads(line) for (line,) in conn.execute(sa.select(audit_records.c.line)
                                                              .order_by(audit_records.c.seq))]
    store.close()
    assert [r["seq"] for r in lines] == list(range(1, 201))
    assert Counter(r["identity"] for r in lines) == {"worker-0": 100, "worker-1": 100}
    for w in range(2):  # each process's records keep their own order
        assert [r["target"] for r in lines if r["identity"] == f"worker-{w}"] == [str(n) for n in range(100)]


def test_threads_and_two_trail_objects_append_into_one_chain(engine: sa.Engine) -> None:
    trails = [SqlAuditTrail(engine), SqlAuditTrail(engine)]  # two objects: the database's lock, not the thread lock

    def work(k: int) -> None:
        for n in range(25):
            trails[k % 2].append(event(n, identity=f"t{k}"))

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result = trails[0].verify()
    assert (result.ok, result.records) == (True, 100), result


def _line(engine: sa.Engine, seq: int) -> dict[str, object]:
    with engine.connect() as conn:
        return dict(json.loads(conn.execute(sa.select(audit_records.c.line)
                                            .where(audit_records.c.seq == seq)).scalar_one()))


def test_an_edited_row_and_rows_cut_off_the_end_are_seen(engine: sa.Engine) -> None:
    trail = SqlAuditTrail(engine)
    for n in range(1, 6):
        trail.append(event(n))
    assert trail.verify().ok
    edited = {**_line(engine, 3), "target": "fp-99"}
    with engine.begin() as conn:
        conn.execute(audit_records.update().where(audit_records.c.seq == 3), {"line": json.dumps(edited)})
    broken = trail.verify()
    assert (broken.ok, broken.records, broken.first_bad) == (False, 2, 3)
    assert broken.reason == "record 3 was altered: its content does not match its hash"

    with engine.begin() as conn:
        conn.execute(audit_records.update().where(audit_records.c.seq == 3),
                     {"line": json.dumps(edited | {"target": "fp-3"})})
    assert trail.verify().ok  # put back as it was: intact again (the hash is over the canonical form)
    with engine.begin() as conn:
        conn.execute(audit_records.delete().where(audit_records.c.seq >= 4))
    cut = trail.verify()
    assert (cut.ok, cut.records, cut.first_bad) == (False, 3, 4)
    assert "records 4-5 were cut off the end" in cut.reason

    # the chain goes on from the head, so the gap stays visible after further appends
    assert trail.append(event(6)).seq == 6
    assert trail.verify().first_bad == 4


def test_a_deleted_head_is_reported_as_the_file_trail_does(engine: sa.Engine) -> None:
    trail = SqlAuditTrail(engine)
    trail.append(event(1))
    trail.append(event(2))
    with engine.begin() as conn:
        conn.execute(audit_head.delete())
    result = trail.verify()
    assert (result.ok, result.records) == (True, 2)
    assert result.reason == "chain intact (no audit.head: a cut-off end would not be seen)"
    assert trail.append(event(3)).seq == 3  # continues from the last row
    assert trail.verify().reason == "chain intact"


def test_records_are_queried_as_from_the_file(engine: sa.Engine, tmp_path: Path) -> None:
    in_file, in_database = AuditTrail(tmp_path / "audit.jsonl"), SqlAuditTrail(engine)
    events = [event(1), event(2, identity="bob", action="alerts.silence"),
              event(3, outcome="failed: 2 of 9 devices failed", action="config.backup"),
              event(4, outcome="denied", status=403), event(5, identity="bob", parameters={"password": "s3cret"})]
    for e in events:
        in_file.append(e)
        in_database.append(e)
    hour = timedelta(hours=1)
    now = datetime.now(UTC)
    queries: list[dict[str, object]] = [
        {}, {"identity": "bob"}, {"action": "alerts."}, {"action": "alerts.silence"}, {"outcome": "failed"},
        {"outcome": "denied"}, {"limit": 2}, {"since": now - hour}, {"until": now - hour}, {"since": now + hour},
        {"identity": "alice", "action": "alerts", "limit": 1}]
    for query in queries:
        from_file = [(r.seq, r.target) for r in in_file.records(**query)]  # type: ignore[arg-type]
        assert [(r.seq, r.target) for r in in_database.records(**query)] == from_file, query  # type: ignore[arg-type]
    assert [r.seq for r in in_database.records(identity="bob")] == [5, 2]  # by hand: newest first
    assert [r.seq for r in in_database.records(outcome="failed")] == [3]
    assert in_database.records()[0].parameters == {"password": "[redacted]"}
    in_file.close()


def test_records_go_to_syslog_as_from_the_file(engine: sa.Engine, rsyslog: Rsyslog) -> None:
    settings = SyslogSettings(host="127.0.0.1", port=rsyslog.tcp_port, protocol="tcp")
    trail = SqlAuditTrail(engine, SyslogForwarder(settings, hostname="core-b"))
    sent = [trail.append(event(1)), trail.append(event(2, outcome="denied"))]
    trail.close()
    got = rsyslog.wait_for(2)
    assert [AuditRecord(**json.loads(m["msg"].lstrip("\ufeff"))) for m in got] == sent
    assert [m["hostname"] for m in got] == ["core-b", "core-b"]


def test_the_store_is_chosen_by_the_database_unless_set(tmp_path: Path) -> None:
    def settings(**options: object) -> Settings:
        return Settings.model_validate({"state_dir": str(tmp_path), **options})

    pg = "postgresql://yiwang@db.example/yiwang"
    assert not trail_in_database(settings())
    assert trail_in_database(settings(database_url=pg))
    assert not trail_in_database(settings(database_url=pg, audit={"store": "file"}))
    assert trail_in_database(settings(audit={"store": "database"}))
    local = open_trail(settings())
    assert type(local) is AuditTrail and local.where == str(tmp_path / "audit" / "audit.jsonl")
    shared = open_trail(settings(audit={"store": "database"}))  # SQLite in the state folder, migrated
    try:
        assert isinstance(shared, SqlAuditTrail) and shared.append(event(1)).seq == 1
        assert shared.verify().ok and not (tmp_path / "audit" / "audit.jsonl").exists()
    finally:
        shared.close()


def test_the_cli_verifies_and_lists_the_trail_in_the_database(postgres: Cluster, tmp_path: Path) -> None:
    url = postgres.new_database()
    config, path = configure(tmp_path, database_url=url)  # PostgreSQL: the trail goes to the database by default
    store = open_store(url)
    trail = SqlAuditTrail(store.engine)
    for n, outcome in enumerate(["ok", "denied", "ok"], start=1):
        trail.append(event(n, outcome=outcome))
    intact = cli(config, "audit", "verify")
    assert intact.returncode == 0, intact.stderr
    assert "链完整 chain intact: 3 records in the database postgresql+psycopg://postgres@/" in intact.stdout
    listed = cli(config, "audit", "list", "--json", "--outcome", "denied")
    assert [json.loads(line)["seq"] for line in listed.stdout.splitlines()] == [2]
    with store.engine.begin() as conn:
        conn.execute(audit_records.delete().where(audit_records.c.seq == 2))
    store.close()
    broken = cli(config, "audit", "verify")
    said = " ".join(broken.stderr.split())
    assert broken.returncode == 1 and "record 2 is missing: line 2 holds record 3" in said, said
    assert not path.exists()
