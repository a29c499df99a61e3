"""The store's behaviour, the same on SQLite and on PostgreSQL, and one engine for the store and the archive index."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from yiwang.store import Store, open_store


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    opened = open_store(database_url)
    yield opened
    opened.close()


def test_health_counts_failures_and_keeps_the_last_good_time(store: Store) -> None:
    store.record_health([("r1", "snmp", True, "ok", "", 0.5, 100), ("r1", "icmp", True, "ok", "", 0.01, 0)])
    first_ok = {h.collector: h for h in store.health("r1")}["snmp"].last_ok_at
    assert first_ok is not None
    failed = ("r1", "snmp", False, "timeout", "no answer", 2.0, 0)
    store.record_health([failed])
    store.record_health([failed, ("r2", "snmp", False, "auth", "", 1.0, 0)])
    by_key = {(h.device, h.collector): h for h in store.health()}
    assert by_key[("r1", "snmp")].consecutive_failures == 2 and not by_key[("r1", "snmp")].ok
    assert by_key[("r1", "snmp")].last_ok_at == first_ok and by_key[("r1", "snmp")].error == "no answer"
    assert by_key[("r2", "snmp")].last_ok_at is None and by_key[("r2", "snmp")].consecutive_failures == 1
    assert by_key[("r1", "icmp")].consecutive_failures == 0
    assert sorted(h.collector for h in store.health("r1")) == ["icmp", "snmp"]


def test_alert_state_and_history(store: Store) -> None:
    assert store.load_alert_state() is None
    transition = {"at_ns": 1_700_000_000_000_000_000, "fingerprint": "fp1", "rule": "cpu", "kind": "firing",
                  "severity": "major", "notify": True, "held": ""}
    store.save_alert_state({"alerts": {"fp1": 1}}, [transition])
    store.save_alert_state({"alerts": {}}, [{**transition, "kind": "resolved"}])
    assert store.load_alert_state() == {"alerts": {}}
    assert [t["kind"] for t in store.alert_history()] == ["resolved", "firing"]
    assert len(store.alert_history(limit=1)) == 1


def test_silences_acks_and_security_events(store: Store) -> None:
    first = store.add_silence({"kind": "silence", "starts_ns": 0, "ends_ns": 100, "device": "r1"})
    second = store.add_silence({"kind": "maintenance", "starts_ns": 50, "ends_ns": 200, "area": "hb",
                                "comment": "cut-over", "created_by": "ops"})
    assert second == first + 1
    assert [s["id"] for s in store.silences(now_ns=150)] == [second]
    assert store.expire_silence(second, 120) and not store.expire_silence(999, 120)
    assert store.silences(now_ns=150) == [] and len(store.silences()) == 2
    store.add_ack("fp1", 5, "zhang", "on it")
    assert store.acks() == [{"fingerprint": "fp1", "at_ns": 5, "by": "zhang", "comment": "on it"}]
    store.record_security_event(1_700_000_000_000_000_000, "authenticationFailure", "r1", "10.0.0.9", "")
    assert [(e["kind"], e["at"][:4]) for e in store.security_events()] == [("authenticationFailure", "2023")]


def test_the_archive_index_shares_the_store_engine(store: Store) -> None:
    assert store.archive.engine is store.engine
    store.archive.record_ok("r1", 100.0, "abc")
    store.archive.record_failure("r1", 200.0, "timeout", "r1: no answer")
    status = store.archive.status()["r1"]
    assert (status.last_ok_at, status.last_attempt_at, status.last_commit) == (100.0, 200.0, "abc")
    assert store.archive.versions("r1") == [("abc", 100.0)]
