"""Browser sessions in the SQL store, for cores that share a database: a standby core that takes over finds the
sessions the active one made, so nobody is signed out by a failover.

At rest only SHA-256 of the session id is kept (the row's key), never the cookie's value. The CSRF token is not
stored at all: it is an HMAC of the session id, so the core that holds the cookie can compute it and a copy of the
table gives neither. Idle and absolute expiry are as in memory (`yiwang.auth.sessions`), with one difference: a
session's last use is written at most every `touch_s` (not one UPDATE per request), so a session may end up to that
much before its idle time is over, never after.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable

from sqlalchemy import ColumnElement, Engine, delete, func, make_url, or_, select, update

from yiwang.auth.roles import Identity, Role
from yiwang.auth.sessions import _TOKEN_BYTES, Session, Sessions, SessionStore, _key, expired
from yiwang.config import Settings
from yiwang.schema import api_sessions

__all__ = ["SqlSessionStore", "csrf_for", "open_sessions"]


def csrf_for(session_id: str) -> str:
    digest = hmac.new(session_id.encode("utf-8", "surrogatepass"), b"yiwang csrf", hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class SqlSessionStore:
    """Implements `yiwang.auth.sessions.Sessions`."""

    def __init__(self, engine: Engine, idle_s: float, max_s: float,
                 clock: Callable[[], float] = time.time, touch_s: float | None = None) -> None:
        self.engine = engine
        self.idle_s = idle_s
        self.max_s = max_s
        self.clock = clock
        # a page open on the overview asks every few seconds: a write each time would be most of the database's work
        self.touch_s = min(30.0, idle_s / 20) if touch_s is None else touch_s

    def create(self, identity: Identity) -> Session:
        now = self.clock()
        session_id = secrets.token_urlsafe(_TOKEN_BYTES)
        with self.engine.begin() as conn:
            conn.execute(delete(api_sessions).where(self._expired_at(now)))
            conn.execute(api_sessions.insert(), {
                "key": _key(session_id), "name": identity.name, "kind": identity.kind,
                "roles": ",".join(sorted(r.value for r in identity.roles)), "created_at": now, "last_seen_at": now})
        return Session(session_id, csrf_for(session_id), identity, now, now)

    def get(self, session_id: str) -> Session | None:
        now = self.clock()
        key = _key(session_id)
        with self.engine.begin() as conn:
            row = conn.execute(select(api_sessions).where(api_sessions.c.key == key)).first()
            if row is None:
                return None
            if expired(row.created_at, row.last_seen_at, now, self.idle_s, self.max_s):
                conn.execute(delete(api_sessions).where(api_sessions.c.key == key))
                return None
            if now - row.last_seen_at >= self.touch_s:
                conn.execute(update(api_sessions).where(api_sessions.c.key == key).values(last_seen_at=now))
        roles = frozenset(Role(name) for name in row.roles.split(",") if name)
        return Session(session_id, csrf_for(session_id), Identity(row.name, roles, row.kind), row.created_at, now)

    def end(self, session_id: str) -> bool:
        with self.engine.begin() as conn:
            return bool(conn.execute(delete(api_sessions).where(api_sessions.c.key == _key(session_id))).rowcount)

    def end_user(self, name: str) -> int:
        with self.engine.begin() as conn:
            return int(conn.execute(delete(api_sessions).where(api_sessions.c.name == name)).rowcount)

    def __len__(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(api_sessions)).scalar_one())

    def _expired_at(self, now: float) -> ColumnElement[bool]:
        return or_(api_sessions.c.last_seen_at <= now - self.idle_s, api_sessions.c.created_at <= now - self.max_s)


def open_sessions(settings: Settings, engine: Engine) -> Sessions:
    """`auth.sessions` when set; otherwise in the database when it is PostgreSQL (cores on several machines share
    it), in memory when it is SQLite (one machine: a restart signing everybody out is the safe way round)."""
    choice = settings.auth.sessions
    if choice is None:
        choice = "database" if make_url(settings.database).get_backend_name() == "postgresql" else "memory"
    if choice == "database":
        return SqlSessionStore(engine, settings.auth.session_idle_s, settings.auth.session_max_s)
    return SessionStore(settings.auth.session_idle_s, settings.auth.session_max_s)
