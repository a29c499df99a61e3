"""The schema's migrations on SQLite and on a real PostgreSQL: a fresh database, one made by the code before the
schema was versioned (upgraded through the real command line, rows kept), and one newer than the code."""

from __future__ import annotations

import multiprocessing
import os
import socket
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from tests.store import legacy_6524104 as legacy
from tests.store.postgres import Cluster
from yiwang.migrations import config, head, upgrade
from yiwang.schema import SchemaError, metadata
from yiwang.store import Store, open_store

T0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)


def describe(url: str) -> dict[str, Any]:
    """Everything the database says about yiwang's tables, as plain data to compare."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            inspector = sa.inspect(conn)
            return {
                table: {
                    "columns": [(c["name"], str(c["type"]), c["nullable"], c.get("default"), c.get("autoincrement"))
                                for c in inspector.get_columns(table)],
                    "primary_key": inspector.get_pk_constraint(table),
                    "indexes": sorted((i["name"], tuple(i["column_names"]), i["unique"])
                                      for i in inspector.get_indexes(table)),
                    "unique": inspector.get_unique_constraints(table),
                    "foreign_keys": inspector.get_foreign_keys(table),
                    "checks": inspector.get_check_constraints(table),
                }
                for table in sorted(inspector.get_table_names()) if table != "alembic_version"
            }
    finally:
        engine.dispose()


def differences(url: str) -> list[Any]:
    """What `alembic check` would report: the models against the database."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
            return list(compare_metadata(context, metadata))
    finally:
        engine.dispose()


def revision(url: str) -> str | None:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def test_revision_0001_is_the_schema_before_versioning(new_database: Callable[[], str]) -> None:
    old, migrated = new_database(), new_database()
    legacy.create(old)
    engine = sa.create_engine(migrated)
    try:
        with engine.begin() as conn:
            command.upgrade(config(conn), "0001")
    finally:
        engine.dispose()
    assert describe(migrated) == describe(old)
    assert set(describe(old)) == set(legacy.metadata.tables) | set(legacy.archive_metadata.tables)


def test_a_fresh_database_is_made_by_the_migrations_and_matches_the_models(database_url: str) -> None:
    store = open_store(database_url)
    store.close()
    assert revision(database_url) == head()
    assert differences(database_url) == []
    assert set(describe(database_url)) == set(metadata.tables)


def test_models_differing_from_the_migrations_are_seen(database_url: str) -> None:
    """The comparison above can fail: a column the migrations never added shows."""
    open_store(database_url).close()
    extra = metadata.tables["poll_health"].to_metadata(sa.MetaData())
    extra.append_column(sa.Column("added_later", sa.Integer))
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), extra.metadata)
    finally:
        engine.dispose()
    assert [d[0] for d in diff if d[0] == "add_column"] == ["add_column"]


@pytest.mark.parametrize("archive_ever_enabled", [True, False])
def test_an_old_database_upgrades_through_the_cli_and_keeps_its_rows(
        database_url: str, tmp_path: Path, archive_ever_enabled: bool) -> None:
    legacy.create(database_url) if archive_ever_enabled else _create_store_tables_only(database_url)
    _fill_the_old_way(database_url, archive_ever_enabled)
    cfg = tmp_path / "yiwang.yaml"
    cfg.write_text(yaml.safe_dump({"state_dir": str(tmp_path / "state"), "database_url": database_url}))

    first = _cli("db", "upgrade", "-c", str(cfg))
    assert first.returncode == 0, first.stderr
    assert f"before: unversioned\nafter: {head()}\n" in first.stdout
    again = _cli("db", "upgrade", "-c", str(cfg))
    assert again.returncode == 0, again.stderr
    assert f"before: {head()}\nafter: {head()}\n" in again.stdout
    assert differences(database_url) == []

    store = Store(database_url)
    try:
        health = {(h.device, h.collector): h for h in store.health()}
        assert health[("r1", "snmp")].ok and health[("r1", "snmp")].polled_at.astimezone(UTC) == T0
        assert health[("r2", "icmp")].consecutive_failures == 3 and health[("r2", "icmp")].error == "timeout 2 s"
        assert store.load_alert_state() == {"alerts": {"fp1": {"state": "firing"}}}
        assert store.alert_history() == [{"fingerprint": "fp1", "kind": "firing"}]
        assert [(s["id"], s["device"], s["created_by"]) for s in store.silences()] == [(1, "r1", "ops"), (2, None, "")]
        assert [(a["fingerprint"], a["by"]) for a in store.acks()] == [("fp1", "zhang")]
        assert [(e["kind"], e["device"]) for e in store.security_events()] == [("authenticationFailure", "r1")]
        if archive_ever_enabled:
            status = store.archive.status()["r1"]
            assert (status.last_ok_at, status.last_reason, status.last_commit) == (100.0, "ok", "abc123")
            assert store.archive.versions("r1") == [("abc123", 100.0)]
        else:
            assert store.archive.status() == {}

        # and it works as a store: updates, new rows after the old ones, the archive index
        store.record_health([("r2", "icmp", True, "ok", "", 0.01, 0), ("r3", "snmp", False, "auth", "denied", 1.0, 0)])
        health = {(h.device, h.collector): h for h in store.health()}
        assert health[("r2", "icmp")].consecutive_failures == 0 and health[("r3", "snmp")].consecutive_failures == 1
        assert store.add_silence({"kind": "silence", "starts_ns": 1, "ends_ns": 2, "rule": "cpu"}) == 3
        assert store.expire_silence(1, 10)
        store.archive.record_ok("r1", 200.0, "def456")
        assert store.archive.versions("r1")[0] == ("def456", 200.0)
    finally:
        store.close()


def test_a_database_newer_than_the_code_is_refused(database_url: str, tmp_path: Path) -> None:
    open_store(database_url).close()
    engine = sa.create_engine(database_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE alembic_version SET version_num = '0999'"))
        with pytest.raises(SchemaError, match="revision 0999, which this yiwang does not know"):
            upgrade(engine)
    finally:
        engine.dispose()
    with pytest.raises(SchemaError, match="0999"):
        open_store(database_url)
    cfg = tmp_path / "yiwang.yaml"
    cfg.write_text(yaml.safe_dump({"state_dir": str(tmp_path / "state"), "database_url": database_url}))
    refused = _cli("db", "upgrade", "-c", str(cfg))
    assert refused.returncode == 1 and "0999" in refused.stderr and "newer yiwang" in _words(refused.stderr)
    assert revision(database_url) == "0999"


def test_yiwang_run_refuses_a_newer_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'y.sqlite'}"
    open_store(url).close()
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '0999'"))
    engine.dispose()
    inventory = tmp_path / "inventory"
    inventory.mkdir()
    (inventory / "inventory.yaml").write_text(yaml.safe_dump({"areas": [{"id": "hb", "name": "Hubei",
                                                                          "level": "province"}]}))
    cfg = tmp_path / "yiwang.yaml"
    cfg.write_text(yaml.safe_dump({"state_dir": str(tmp_path / "state"), "database_url": url,
                                   "inventory": [str(inventory)], "api": {"port": _free_port()}}))
    refused = _cli("run", "-c", str(cfg), timeout=60)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "0999" in refused.stderr and "newer yiwang" in _words(refused.stderr)


def test_an_unreachable_database_is_one_line_without_the_password(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://yiwang:s3cret-pw@/yiwang?host={tmp_path}"  # no server on that socket
    with pytest.raises(SchemaError) as caught:
        open_store(url)
    assert "s3cret-pw" not in str(caught.value) and "***" in str(caught.value)


def _create_store_tables_only(url: str) -> None:
    """The archive was never enabled: the old code never created its index."""
    engine = sa.create_engine(url)
    try:
        legacy.metadata.create_all(engine)
    finally:
        engine.dispose()


def _fill_the_old_way(url: str, archive: bool) -> None:
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(legacy.poll_health.insert(), [
                {"device": "r1", "collector": "snmp", "ok": True, "reason": "ok", "error": "", "duration_s": 0.2,
                 "varbinds": 120, "polled_at": T0, "last_ok_at": T0, "consecutive_failures": 0},
                {"device": "r2", "collector": "icmp", "ok": False, "reason": "timeout", "error": "timeout 2 s",
                 "duration_s": 2.0, "varbinds": 0, "polled_at": T0, "last_ok_at": None, "consecutive_failures": 3}])
            conn.execute(legacy.alert_state.insert(), {
                "id": 1, "state": '{"alerts": {"fp1": {"state": "firing"}}}', "updated_at": T0})
            conn.execute(legacy.alert_history.insert(), {
                "at": T0, "fingerprint": "fp1", "rule": "cpu", "kind": "firing", "severity": "major", "notify": True,
                "held": "", "detail": '{"fingerprint": "fp1", "kind": "firing"}'})
            conn.execute(legacy.silences.insert(),
                         {"kind": "maintenance", "starts_ns": 1, "ends_ns": 2**62, "device": "r1", "created_by": "ops"})
            conn.execute(legacy.silences.insert(),
                         {"kind": "silence", "starts_ns": 1, "ends_ns": 2**62, "area": "city"})
            conn.execute(legacy.acks.insert(), {"fingerprint": "fp1", "at_ns": 5, "by": "zhang"})
            conn.execute(legacy.security_events.insert(), {
                "at": T0, "kind": "authenticationFailure", "device": "r1", "source": "10.0.0.9"})
            if archive:
                conn.execute(legacy.backup_status.insert(), {
                    "device": "r1", "last_ok_at": 100.0, "last_attempt_at": 100.0, "last_reason": "ok",
                    "last_commit": "abc123"})
                conn.execute(legacy.config_versions.insert(), {"device": "r1", "commit": "abc123", "time": 100.0})
    finally:
        engine.dispose()


def _cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "yiwang", *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "COLUMNS": "200"})


def _words(text: str) -> str:
    return " ".join(text.split())  # the error console wraps long lines


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_processes_starting_at_once_on_postgresql_upgrade_once(postgres: Cluster) -> None:
    url = postgres.new_database()
    context = multiprocessing.get_context("spawn")
    start, results = context.Barrier(4), context.Queue()
    processes = [context.Process(target=_upgrade_after, args=(url, start, results)) for _ in range(4)]
    for process in processes:
        process.start()
    befores = sorted(str(results.get(timeout=120)) for _ in processes)
    for process in processes:
        process.join(timeout=30)
    assert befores == sorted(["None"] + [head()] * 3)  # one migrated, the others found it done
    assert revision(url) == head() and differences(url) == []


def _upgrade_after(url: str, start: Any, results: Any) -> None:
    engine = sa.create_engine(url)
    try:
        start.wait(timeout=60)
        results.put(upgrade(engine).before)
    except Exception as exc:  # noqa: BLE001 - the test reads it
        results.put(repr(exc))
    finally:
        engine.dispose()
