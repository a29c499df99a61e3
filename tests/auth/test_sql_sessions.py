"""Browser sessions in the SQL store: two cores over one database (a standby that takes over keeps everybody
signed in), the same expiry as in memory, and nothing at rest that signs anybody in."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.auth.test_sessions import LI, WANG, Clock
from yiwang.auth.sessions import SessionStore, _key
from yiwang.auth.sql_sessions import SqlSessionStore, csrf_for, open_sessions
from yiwang.config import Settings
from yiwang.schema import api_sessions
from yiwang.store import open_store


@pytest.fixture
def engine(database_url: str) -> Iterator[sa.Engine]:
    store = open_store(database_url)
    yield store.engine
    store.close()


def test_a_session_made_on_one_core_is_used_and_ended_on_the_other(engine: sa.Engine) -> None:
    clock = Clock()
    active, standby = SqlSessionStore(engine, 600, 43200, clock), SqlSessionStore(engine, 600, 43200, clock)
    session = active.create(LI)
    clock.now += 30
    found = standby.get(session.id)
    assert found is not None and found.identity == LI and found.csrf_ok(session.csrf_token)
    assert (found.created_at, found.last_seen_at) == (1_700_000_000.0, 1_700_000_030.0)
    assert standby.get("not-a-session") is None and not found.csrf_ok("forged")
    other = active.create(WANG)
    assert len(standby) == 2
    assert standby.end(session.id) and active.get(session.id) is None and not active.end(session.id)
    assert active.get(other.id) is not None and standby.end_user("wang") == 1 and active.get(other.id) is None


def test_idle_and_absolute_expiry(engine: sa.Engine) -> None:
    clock = Clock()
    store = SqlSessionStore(engine, 600, 1000, clock)
    session = store.create(LI)
    clock.now += 599
    assert store.get(session.id) is not None  # touched at 599: idle time starts again
    clock.now += 599
    assert store.get(session.id) is None  # 1198 s old: over the absolute 1000
    idle = store.create(WANG)
    clock.now += 600
    assert store.get(idle.id) is None and len(store) == 0  # an expired session is deleted when it is asked for
    kept = store.create(LI)
    stale = store.create(WANG)
    clock.now += 700
    store.create(WANG)  # making one drops the expired ones
    assert len(store) == 1 and store.get(kept.id) is None and store.get(stale.id) is None


def test_no_cookie_value_or_csrf_token_at_rest(engine: sa.Engine) -> None:
    store = SqlSessionStore(engine, 600, 43200, Clock())
    session = store.create(LI)
    assert session.csrf_token == csrf_for(session.id) != session.id and len(session.csrf_token) == 43
    with engine.connect() as conn:
        rows = [tuple(row) for row in conn.execute(sa.select(api_sessions))]
    assert len(rows) == 1 and bytes(rows[0][0]) == _key(session.id)
    stored = repr(rows)
    assert session.id not in stored and session.csrf_token not in stored
    assert rows[0][1:4] == ("li", "operator", "user")


def test_sessions_are_kept_in_the_database_when_it_is_postgresql_unless_set(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'unused.sqlite'}")  # never connected: no session is made
    pg = "postgresql://yiwang@db.example/yiwang"

    def chosen(**options: object) -> type:
        return type(open_sessions(Settings.model_validate({"state_dir": str(tmp_path), **options}), engine))

    assert chosen() is SessionStore
    assert chosen(database_url=pg) is SqlSessionStore
    assert chosen(database_url=pg, auth={"sessions": "memory"}) is SessionStore
    assert chosen(auth={"sessions": "database"}) is SqlSessionStore
    engine.dispose()


def test_last_use_is_written_at_most_every_touch_s_and_never_keeps_a_session_longer(engine: sa.Engine) -> None:
    clock = Clock()
    store = SqlSessionStore(engine, 600, 43200, clock)
    assert store.touch_s == 30.0  # idle 600 s: a twentieth
    session = store.create(LI)
    statements: list[str] = []

    def seen(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement.split()[0].upper())

    sa.event.listen(engine, "before_cursor_execute", seen)
    try:
        for _ in range(10):  # ten requests in 25 s: read, not written
            clock.now += 2.5
            assert store.get(session.id) is not None
        assert "UPDATE" not in statements and statements.count("SELECT") == 10
        clock.now += 5  # 30 s since the last write
        assert store.get(session.id) is not None and statements.count("UPDATE") == 1
    finally:
        sa.event.remove(engine, "before_cursor_execute", seen)
    stored = store.clock()
    # used at +29.9 s after that write (not written), then idle: it ends 600 s after the write, not after the use
    clock.now += 29.9
    assert store.get(session.id) is not None
    clock.now = stored + 600
    assert store.get(session.id) is None
