"""Browser sessions: idle and absolute expiry on an injected clock, CSRF tokens, ending a user's sessions."""

from __future__ import annotations

import threading

from yiwang.auth.roles import Identity, Role
from yiwang.auth.sessions import SessionStore

LI = Identity("li", frozenset({Role.OPERATOR}), "user")
WANG = Identity("wang", frozenset({Role.VIEWER}), "ldap")


class Clock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_a_session_is_found_by_its_id_and_carries_its_identity() -> None:
    store = SessionStore(600, 43200, Clock())
    session = store.create(LI)
    found = store.get(session.id)
    assert found is not None and found.identity == LI and found.csrf_token == session.csrf_token
    assert store.get("not-a-session") is None and store.get("") is None


def test_ids_and_csrf_tokens_are_long_random_and_distinct() -> None:
    store = SessionStore(600, 43200, Clock())
    sessions = [store.create(LI) for _ in range(500)]
    values = {s.id for s in sessions} | {s.csrf_token for s in sessions}
    assert len(values) == 1000
    assert all(len(s.id) >= 43 and len(s.csrf_token) >= 43 for s in sessions)  # 256 bits each


def test_idle_expiry_and_touching() -> None:
    clock = Clock()
    store = SessionStore(600, 43200, clock)
    session = store.create(LI)
    clock.now += 599
    assert store.get(session.id) is not None  # touched: the idle time starts again
    clock.now += 599
    assert store.get(session.id) is not None
    clock.now += 600
    assert store.get(session.id) is None
    clock.now -= 300  # gone for good, even if the clock went back
    assert store.get(session.id) is None


def test_absolute_expiry_despite_activity() -> None:
    clock = Clock()
    store = SessionStore(600, 3600, clock)
    session = store.create(LI)
    for _ in range(11):
        clock.now += 300
        assert store.get(session.id) is not None
    clock.now += 300  # 3600 s since it began
    assert store.get(session.id) is None


def test_end_and_end_user() -> None:
    store = SessionStore(600, 43200, Clock())
    first, second, other = store.create(LI), store.create(LI), store.create(WANG)
    assert store.end(first.id) and not store.end(first.id)
    assert store.get(first.id) is None
    assert store.end_user("li") == 1 and store.get(second.id) is None
    assert store.get(other.id) is not None and len(store) == 1


def test_csrf_token_check() -> None:
    session = SessionStore(600, 43200, Clock()).create(LI)
    assert session.csrf_ok(session.csrf_token)
    assert not session.csrf_ok(None) and not session.csrf_ok("") and not session.csrf_ok(session.csrf_token[:-1])
    assert not session.csrf_ok(session.id)
    assert not session.csrf_ok("é" * 43)


def test_expired_sessions_are_dropped_when_new_ones_are_made() -> None:
    clock = Clock()
    store = SessionStore(60, 3600, clock)
    for _ in range(100):
        store.create(LI)
    clock.now += 61
    store.create(WANG)
    assert len(store) == 1


def test_the_id_and_csrf_token_stay_out_of_repr() -> None:
    session = SessionStore(600, 43200, Clock()).create(LI)
    assert session.id not in repr(session) and session.csrf_token not in repr(session)


def test_concurrent_use_from_threads() -> None:
    store = SessionStore(600, 43200, Clock())
    made: list[str] = []
    lock = threading.Lock()

    def work() -> None:
        for _ in range(200):
            session = store.create(LI)
            assert store.get(session.id) is not None
            with lock:
                made.append(session.id)
            store.end(session.id)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(made)) == 1600 and len(store) == 0
