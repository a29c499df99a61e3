"""Browser sessions, in memory: a restart signs everybody out, which is the safe way round.

A session ends after `idle_s` unused (等保 2.0 8.1.4.1 d: log out after a time without activity) and after `max_s`
in any case. The id goes in the cookie; the CSRF token is handed to the page and must come back in a header on
every state-changing request (`csrf_ok`). Both come from `secrets`, 256 bits each.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Protocol

from yiwang.auth.roles import Identity

_TOKEN_BYTES = 32


@dataclass(frozen=True, slots=True)
class Session:
    id: str = field(repr=False)
    csrf_token: str = field(repr=False)
    identity: Identity
    created_at: float
    last_seen_at: float

    def csrf_ok(self, presented: str | None) -> bool:
        return presented is not None and hmac.compare_digest(presented.encode(), self.csrf_token.encode())


class Sessions(Protocol):
    """Where the API keeps sessions: in memory (`SessionStore`) or in the database the cores share
    (`yiwang.auth.sql_sessions.SqlSessionStore`)."""

    def create(self, identity: Identity) -> Session: ...

    def get(self, session_id: str) -> Session | None: ...

    def end(self, session_id: str) -> bool: ...

    def end_user(self, name: str) -> int: ...

    def __len__(self) -> int: ...


class SessionStore:
    def __init__(self, idle_s: float, max_s: float, clock: Callable[[], float] = time.time) -> None:
        self.idle_s = idle_s
        self.max_s = max_s
        self.clock = clock
        # keyed by a digest of the id, so that finding one compares digests, never the id an attacker sends
        self._sessions: dict[bytes, Session] = {}
        self._lock = threading.Lock()

    def create(self, identity: Identity) -> Session:
        now = self.clock()
        session = Session(secrets.token_urlsafe(_TOKEN_BYTES), secrets.token_urlsafe(_TOKEN_BYTES), identity,
                          now, now)
        with self._lock:
            self._drop_expired(now)
            self._sessions[_key(session.id)] = session
        return session

    def get(self, session_id: str) -> Session | None:
        """The live session, touched (its idle time starts again); None when unknown or expired."""
        now = self.clock()
        key = _key(session_id)
        with self._lock:
            session = self._sessions.get(key)
            if session is None:
                return None
            if self._expired(session, now):
                del self._sessions[key]
                return None
            session = replace(session, last_seen_at=now)
            self._sessions[key] = session
            return session

    def end(self, session_id: str) -> bool:
        with self._lock:
            return self._sessions.pop(_key(session_id), None) is not None

    def end_user(self, name: str) -> int:
        """Ends every session of `name` (locked, removed, roles or password changed); how many there were."""
        with self._lock:
            keys = [k for k, s in self._sessions.items() if s.identity.name == name]
            for key in keys:
                del self._sessions[key]
            return len(keys)

    def __len__(self) -> int:
        with self._lock:
            return len(self._sessions)

    def _expired(self, session: Session, now: float) -> bool:
        return expired(session.created_at, session.last_seen_at, now, self.idle_s, self.max_s)

    def _drop_expired(self, now: float) -> None:
        for key in [k for k, s in self._sessions.items() if self._expired(s, now)]:
            del self._sessions[key]


def expired(created_at: float, last_seen_at: float, now: float, idle_s: float, max_s: float) -> bool:
    return now - last_seen_at >= idle_s or now - created_at >= max_s


def _key(session_id: str) -> bytes:
    return hashlib.sha256(session_id.encode("utf-8", "surrogatepass")).digest()
