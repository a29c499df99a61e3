"""Users, API tokens and logins over the SQL store: the one place that decides who someone is.

Everything here blocks (Argon2 takes tens of milliseconds on purpose, SQL is synchronous): the API calls it in
threads, so the token cache is guarded by a lock. Nothing secret leaves this module: records carry no hash, errors
carry a reason and a plain message but never what was presented, and security events name the account or the
token's public id.

Timing: a login for an unknown user and a wrong token secret each cost one Argon2 verification (against a dummy
hash with the same parameters), like a wrong password, so the answer time does not tell them apart.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, NoReturn

from sqlalchemy import Engine, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from yiwang.auth.directory import Directory, DirectoryUnavailable
from yiwang.auth.passwords import Passwords, generate_password, policy_problems
from yiwang.auth.roles import EXCLUSIVE, Identity, Role, RoleError, parse_roles
from yiwang.auth.tokens import ParsedToken, new_token, parse_token
from yiwang.config import AuthSettings
from yiwang.schema import api_tokens, users

__all__ = ["AuthError", "AuthService", "RoleError", "TokenRecord", "UserError", "UserRecord"]

log = logging.getLogger(__name__)

SecurityEventSink = Callable[[str, str, str, str], None]  # (kind, subject, source, detail)
Reason = Literal["malformed", "unknown", "wrong", "expired", "revoked", "locked", "no-role", "directory-down"]

ROW_RECHECK_S = 5.0  # a cached token's row (revoked? expired? roles?) is read again after this long
LAST_USED_EVERY_S = 60.0  # last_used_at is written at most this often per token
CACHE_MAX = 10_000  # cached tokens; only verified tokens get in, so it is bounded by the tokens there are
MAX_EXPIRES_S = 10 * 366 * 86400.0
INITIAL_PASSWORD_FILE = "initial-admin-password"  # noqa: S105 - a file name
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
_TOKEN_ID = re.compile(r"[0-9a-f]{24}")
_MESSAGES: dict[str, str] = {
    "malformed": "not a yiwang token",
    "unknown": "unknown user or token",
    "wrong": "wrong password or token",
    "expired": "the token has expired",
    "revoked": "the token has been revoked",
    "locked": "the account is locked",
    "no-role": "the directory gives this person no yiwang role",
    "directory-down": "the directory cannot be reached",
}


class AuthError(ValueError):
    """Authentication refused. `reason` is for logs and security events; an API should answer all of them alike
    (except perhaps "directory-down", which is not the caller's fault)."""

    def __init__(self, reason: Reason) -> None:
        super().__init__(_MESSAGES[reason])
        self.reason: Reason = reason

    def __reduce__(self) -> tuple[type[AuthError], tuple[Reason]]:
        return AuthError, (self.reason,)


class UserError(ValueError):
    """A request to manage users or tokens that cannot be done: unknown name, weak password, name taken, ..."""


class NotFound(UserError):
    """No user or token by that name or id."""


class Taken(UserError):
    """The name is someone's already."""


@dataclass(frozen=True, slots=True)
class UserRecord:
    name: str
    roles: frozenset[Role]  # for a directory user: those of their last login
    source: Literal["local", "ldap"]
    locked: bool  # by an admin
    locked_until: datetime | None  # after failed logins
    failed_logins: int
    last_login_at: datetime | None
    password_changed_at: datetime | None
    created_at: datetime
    has_password: bool

    @property
    def role_names(self) -> list[str]:
        return sorted(r.value for r in self.roles)

    def locked_at(self, now: datetime) -> bool:
        return self.locked or (self.locked_until is not None and self.locked_until > now)


@dataclass(frozen=True, slots=True)
class TokenRecord:
    id: str
    name: str
    roles: frozenset[Role]
    created_by: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None

    @property
    def role_names(self) -> list[str]:
        return sorted(r.value for r in self.roles)


@dataclass(slots=True)
class _CachedToken:
    token_id: str
    identity: Identity
    expires_at: float | None
    verified_at: float  # the Argon2 hash last checked
    checked_at: float  # the row last read
    used_written_at: float


class AuthService:
    def __init__(self, engine: Engine, settings: AuthSettings, *, directory: Directory | None = None,
                 on_security_event: SecurityEventSink | None = None, clock: Callable[[], float] = time.time,
                 passwords: Passwords | None = None) -> None:
        self.engine = engine
        self.settings = settings
        self.directory = directory
        self.on_security_event = on_security_event
        self.clock = clock
        self.passwords = passwords or Passwords()
        self._cache: dict[bytes, _CachedToken] = {}
        self._cache_lock = threading.Lock()
        self._revocations = 0  # bumped by each revocation: a verification that began before it is not cached

    # --- logins ---------------------------------------------------------------------------------------------

    def login(self, name: str, password: str, source: str) -> Identity:
        """The identity of a person who gave the right password: a local user first, else the directory."""
        now = self._now()
        valid_name = bool(_NAME.fullmatch(name))
        row = self._user_row(name) if valid_name else None
        if row is not None and row.source == "local":
            return self._login_local(row, password, source, now)
        if row is None and valid_name and self.directory is not None:
            row = self._directory_row(name)
        if row is not None and _locked(row, now):
            self._fail(row.name, source, "locked")
        if self.directory is None or not valid_name:
            self.passwords.verify(None, password)
            self._fail(name if valid_name else "(not a user name)", source, "unknown")
        if not password:
            # an LDAP simple bind with an empty password is an anonymous bind, which "succeeds"
            self._fail(name, source, "wrong" if row is not None else "unknown")
        try:
            person = self.directory.authenticate(name, password)
        except DirectoryUnavailable as exc:
            log.warning("directory unavailable for a login: %s", type(exc).__name__)
            self._event("login-failed", name, source, "directory-down")
            raise AuthError("directory-down") from None
        if person is None:
            if row is not None:
                self._count_failure(row.name, source, now)
            self._fail(name, source, "unknown")
        roles = person.roles
        if not roles or any(pair <= roles for pair in EXCLUSIVE):
            self._fail(person.name, source, "no-role")
        if not self._record_directory_login(person.name, roles, now):
            self._fail(person.name, source, "unknown")  # the directory's name is a local user's
        return Identity(person.name, roles, "ldap")

    def _login_local(self, row: Any, password: str, source: str, now: datetime) -> Identity:
        matches = self.passwords.verify(row.password_hash, password)  # before the lock check: the same cost
        if _locked(row, now):
            self._fail(row.name, source, "locked")
        if not matches:
            self._count_failure(row.name, source, now)
        roles = _stored_roles(row.roles)
        if not roles:
            self._fail(row.name, source, "no-role")
        values: dict[str, Any] = {"failed_logins": 0, "locked_until": None, "last_login_at": now}
        if self.passwords.needs_rehash(row.password_hash):
            values["password_hash"] = self.passwords.hash(password)
        with self.engine.begin() as conn:
            conn.execute(update(users).where(users.c.name == row.name).values(**values))
        return Identity(row.name, roles, "user")

    def _count_failure(self, name: str, source: str, now: datetime) -> NoReturn:
        """One more failed login in a row; the account locked at `lockout_failures`."""
        limit = self.settings.lockout_failures
        with self.engine.begin() as conn:
            # one UPDATE that increments: concurrent failures each count (the row is locked until commit)
            conn.execute(update(users).where(users.c.name == name)
                         .values(failed_logins=users.c.failed_logins + 1))
            failures = conn.execute(select(users.c.failed_logins).where(users.c.name == name)).scalar_one_or_none()
            locks = failures is not None and failures >= limit
            if locks:
                until = datetime.fromtimestamp(now.timestamp() + self.settings.lockout_s, UTC)
                conn.execute(update(users).where(users.c.name == name).values(locked_until=until, failed_logins=0))
        self._event("login-failed", name, source, f"wrong password ({failures} in a row)")
        if locks:
            self._event("account-locked", name, source,
                        f"{failures} failed logins in a row: locked for {self.settings.lockout_s:g} s")
        raise AuthError("wrong")

    def _record_directory_login(self, name: str, roles: frozenset[Role], now: datetime) -> bool:
        """The directory user's row (for lockout and the last login) up to date; False when `name` is local."""
        values = {"roles": _roles_text(roles), "failed_logins": 0, "locked_until": None, "last_login_at": now}
        with self.engine.begin() as conn:
            source = conn.execute(select(users.c.source).where(users.c.name == name)).scalar_one_or_none()
            if source == "local":
                return False
            if source is not None:
                conn.execute(update(users).where(users.c.name == name).values(**values))
                return True
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(users).values(name=name, password_hash=None, source="ldap", locked=False,
                                                  created_at=now, **values))
        except IntegrityError:
            pass  # the same person's first login in another thread got there first
        return True

    def _fail(self, subject: str, source: str, reason: Reason) -> NoReturn:
        self._event("login-failed", subject, source, reason)
        raise AuthError(reason)

    # --- tokens ---------------------------------------------------------------------------------------------

    def cached_identity(self, presented: str) -> Identity | None:
        """The identity when the cache can answer without any I/O (no hash to verify, no row to re-read, no
        last-used time to write): for the event loop. None: ask `verify_token` (in a thread)."""
        key = hashlib.sha256(presented.encode()).digest()
        now = self.clock()
        with self._cache_lock:
            cached = self._cache.get(key)
        if cached is None or now - cached.verified_at >= self.settings.token_recheck_s \
                or now - cached.checked_at >= ROW_RECHECK_S or now - cached.used_written_at >= LAST_USED_EVERY_S \
                or (cached.expires_at is not None and now >= cached.expires_at):
            return None
        return cached.identity

    def verify_token(self, presented: str, source: str) -> Identity:
        """The identity a token stands for. Cached: the hash is verified again after `token_recheck_s`, the row
        read again after ROW_RECHECK_S; a revocation through this object takes effect at once."""
        parsed = parse_token(presented)
        if parsed is None:
            self._reject_token("", source, "malformed")
        key = hashlib.sha256(presented.encode()).digest()
        now = self.clock()
        with self._cache_lock:
            cached = self._cache.get(key)
            if cached is not None and now - cached.verified_at >= self.settings.token_recheck_s:
                del self._cache[key]
                cached = None
        if cached is None:
            return self._verify_token_slowly(parsed, key, source, now)
        if now - cached.checked_at >= ROW_RECHECK_S:
            row = self._token_row(parsed.id)
            if row is None:
                self._forget(key)
                self._reject_token(parsed.id, source, "unknown")
            state = _token_state(row, now)
            if state is not None:
                self._forget(key)
                self._reject_token(parsed.id, source, state)
            with self._cache_lock:
                cached.identity = Identity(row.name, _stored_roles(row.roles), "token", token_id=row.id)
                cached.expires_at = _epoch(row.expires_at)
                cached.checked_at = now
        if cached.expires_at is not None and now >= cached.expires_at:
            self._forget(key)
            self._reject_token(parsed.id, source, "expired")
        if now - cached.used_written_at >= LAST_USED_EVERY_S:
            cached.used_written_at = now
            self._write_last_used(parsed.id, now)
        return cached.identity

    def _verify_token_slowly(self, parsed: ParsedToken, key: bytes, source: str, now: float) -> Identity:
        with self._cache_lock:
            revocations = self._revocations
        row = self._token_row(parsed.id)
        matches = self.passwords.verify(row.secret_hash if row is not None else None, parsed.secret)
        if row is None:
            self._reject_token(parsed.id, source, "unknown")
        if not matches:
            self._reject_token(parsed.id, source, "wrong")
        # revoked and expired are told only to someone who holds the secret
        reason = _token_state(row, now)
        if reason is not None:
            self._reject_token(parsed.id, source, reason)
        identity = Identity(row.name, _stored_roles(row.roles), "token", token_id=row.id)
        self._write_last_used(row.id, now)
        with self._cache_lock:
            if revocations == self._revocations:
                if len(self._cache) >= CACHE_MAX:
                    del self._cache[next(iter(self._cache))]  # the oldest entry
                self._cache[key] = _CachedToken(row.id, identity, _epoch(row.expires_at), now, now, now)
        return identity

    def _reject_token(self, token_id: str, source: str, reason: Reason) -> NoReturn:
        self._event("token-rejected", token_id, source, reason)
        raise AuthError(reason)

    def _forget(self, key: bytes) -> None:
        with self._cache_lock:
            self._cache.pop(key, None)

    def _write_last_used(self, token_id: str, now: float) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(api_tokens).where(api_tokens.c.id == token_id)
                         .values(last_used_at=datetime.fromtimestamp(now, UTC)))

    def create_token(self, name: str, roles: Iterable[str], expires_s: float | None,
                     created_by: str) -> tuple[str, TokenRecord]:
        """A new token: its text, to be shown once and never again, and its record."""
        _check_name(name, "token")
        parsed_roles = parse_roles(roles)
        if expires_s is not None and not 0 < expires_s <= MAX_EXPIRES_S:
            raise UserError(f"a token expires after more than 0 s and at most {MAX_EXPIRES_S / 86400:g} days")
        now = self._now()
        text, parts = new_token()
        expires_at = None if expires_s is None else datetime.fromtimestamp(now.timestamp() + expires_s, UTC)
        with self.engine.begin() as conn:
            conn.execute(insert(api_tokens).values(
                id=parts.id, name=name, roles=_roles_text(parsed_roles), secret_hash=self.passwords.hash(parts.secret),
                created_by=created_by[:64], created_at=now, expires_at=expires_at))
        record = self.token(parts.id)
        assert record is not None
        return text, record

    def tokens(self) -> list[TokenRecord]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(api_tokens).order_by(api_tokens.c.created_at, api_tokens.c.id))
            return [_token_record(row) for row in rows]

    def token(self, token_id: str) -> TokenRecord | None:
        row = self._token_row(token_id)
        return None if row is None else _token_record(row)

    def revoke_token(self, token_id: str) -> TokenRecord:
        """Revokes the token at once (a whole token pasted by mistake is taken by its id)."""
        parsed = parse_token(token_id)
        if parsed is not None:
            token_id = parsed.id
        if not _TOKEN_ID.fullmatch(token_id):
            raise UserError("a token id is 24 hexadecimal digits (see `yiwang auth token list`)")
        with self.engine.begin() as conn:
            conn.execute(update(api_tokens).where(api_tokens.c.id == token_id, api_tokens.c.revoked_at.is_(None))
                         .values(revoked_at=self._now()))
        with self._cache_lock:
            self._revocations += 1
            for key in [k for k, c in self._cache.items() if c.token_id == token_id]:
                del self._cache[key]
        record = self.token(token_id)
        if record is None:
            raise NotFound(f"no token {token_id}")
        return record

    # --- users ----------------------------------------------------------------------------------------------

    def add_user(self, name: str, roles: Iterable[str], password: str | None) -> UserRecord:
        """A local user. Without a password the account cannot log in until `set_password`."""
        _check_name(name, "user")
        parsed_roles = parse_roles(roles)
        if password is not None:
            _check_password(password, name)
        if self.user(name) is not None:
            raise Taken(f"there is a user {name} already")
        now = self._now()
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(users).values(
                    name=name, password_hash=None if password is None else self.passwords.hash(password),
                    roles=_roles_text(parsed_roles), source="local", locked=False, failed_logins=0,
                    password_changed_at=None if password is None else now, created_at=now))
        except IntegrityError:
            raise Taken(f"there is a user {name} already") from None
        return self._user(name)

    def set_password(self, name: str, password: str) -> UserRecord:
        self._local(name)
        _check_password(password, name)
        self._update_user(name, password_hash=self.passwords.hash(password), password_changed_at=self._now())
        return self._user(name)

    def set_roles(self, name: str, roles: Iterable[str]) -> UserRecord:
        parsed_roles = parse_roles(roles)
        self._local(name)
        self._update_user(name, roles=_roles_text(parsed_roles))
        return self._user(name)

    def lock(self, name: str) -> UserRecord:
        """Locked until `unlock`: logins are refused (the caller ends the user's sessions)."""
        self._update_user(name, locked=True)
        return self._user(name)

    def unlock(self, name: str) -> UserRecord:
        """Lifts both locks: an admin's and the one after failed logins."""
        self._update_user(name, locked=False, locked_until=None, failed_logins=0)
        return self._user(name)

    def remove(self, name: str) -> None:
        with self.engine.begin() as conn:
            if not conn.execute(delete(users).where(users.c.name == name)).rowcount:
                raise NotFound(f"no user {_shown(name)}")

    def users(self) -> list[UserRecord]:
        with self.engine.connect() as conn:
            return [_user_record(row) for row in conn.execute(select(users).order_by(users.c.name))]

    def user(self, name: str) -> UserRecord | None:
        row = self._user_row(name)
        return None if row is None else _user_record(row)

    def bootstrap_admin(self, state_dir: Path) -> str | None:
        """With no user and no token at all: the user `admin` with a random password, written to
        `state_dir/initial-admin-password` (mode 0600) and returned; None otherwise."""
        with self.engine.connect() as conn:
            if conn.execute(select(func.count()).select_from(users)).scalar_one() or \
                    conn.execute(select(func.count()).select_from(api_tokens)).scalar_one():
                return None
        password = generate_password("admin")
        try:
            self.add_user("admin", [Role.ADMIN.value], password)
        except UserError:
            return None  # another process starting at the same moment made it
        try:
            _write_private(state_dir / INITIAL_PASSWORD_FILE, password + "\n")
        except BaseException:
            self.remove("admin")  # an admin whose password nobody knows would block the next bootstrap
            raise
        return password

    # --- rows -----------------------------------------------------------------------------------------------

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    def _event(self, kind: str, subject: str, source: str, detail: str) -> None:
        log.debug("security event %s subject=%s source=%s: %s", kind, subject, source, detail)
        if self.on_security_event is None:
            return
        try:
            self.on_security_event(kind, subject, source, detail)
        except Exception as exc:  # noqa: BLE001 - the refusal stands whether or not its record could be written
            log.warning("a security event (%s) could not be recorded: %s", kind, type(exc).__name__)

    def _user_row(self, name: str) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(select(users).where(users.c.name == name)).first()

    def _directory_row(self, name: str) -> Any:
        # directories compare names without case: a row for "Zhang" counts the failures of "zhang"
        with self.engine.connect() as conn:
            return conn.execute(select(users).where(func.lower(users.c.name) == name.lower(),
                                                    users.c.source == "ldap")).first()

    def _user(self, name: str) -> UserRecord:
        record = self.user(name)
        if record is None:
            raise NotFound(f"no user {_shown(name)}")
        return record

    def _local(self, name: str) -> None:
        if self._user(name).source != "local":
            raise UserError(f"{name} comes from the directory: change their password and groups there")

    def _update_user(self, name: str, **values: Any) -> None:
        with self.engine.begin() as conn:
            if not conn.execute(update(users).where(users.c.name == name).values(**values)).rowcount:
                raise NotFound(f"no user {_shown(name)}")

    def _token_row(self, token_id: str) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(select(api_tokens).where(api_tokens.c.id == token_id)).first()


def _locked(row: Any, now: datetime) -> bool:
    until = _aware(row.locked_until)
    return bool(row.locked) or (until is not None and until > now)


def _token_state(row: Any, now: float) -> Reason | None:
    if row.revoked_at is not None:
        return "revoked"
    expires = _epoch(row.expires_at)
    if expires is not None and now >= expires:
        return "expired"
    return None


def _check_name(name: str, kind: str) -> None:
    if not _NAME.fullmatch(name):
        raise UserError(f"a {kind} name is 1 to 64 letters, digits and . _ @ -, starting with a letter or digit")


def _check_password(password: str, name: str) -> None:
    problems = policy_problems(password, name)
    if problems:
        raise UserError("the password is refused: " + "; ".join(problems))


def _shown(name: str) -> str:
    """A name for a message: only one that could be a name (a password typed in the wrong field stays out)."""
    return name if _NAME.fullmatch(name) else "(not a valid name)"


def _roles_text(roles: frozenset[Role]) -> str:
    return ",".join(sorted(r.value for r in roles))


def _stored_roles(text: str) -> frozenset[Role]:
    return frozenset(Role(name) for name in text.split(",") if name)


def _aware(moment: datetime | None) -> datetime | None:
    # SQLite gives back naive datetimes for timezone-aware columns; yiwang writes UTC
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def _epoch(moment: datetime | None) -> float | None:
    aware = _aware(moment)
    return None if aware is None else aware.timestamp()


def _user_record(row: Any) -> UserRecord:
    created_at = _aware(row.created_at)
    assert created_at is not None
    return UserRecord(
        name=row.name, roles=_stored_roles(row.roles), source=row.source, locked=bool(row.locked),
        locked_until=_aware(row.locked_until), failed_logins=row.failed_logins,
        last_login_at=_aware(row.last_login_at), password_changed_at=_aware(row.password_changed_at),
        created_at=created_at, has_password=row.password_hash is not None)


def _token_record(row: Any) -> TokenRecord:
    created_at = _aware(row.created_at)
    assert created_at is not None
    return TokenRecord(
        id=row.id, name=row.name, roles=_stored_roles(row.roles), created_by=row.created_by, created_at=created_at,
        expires_at=_aware(row.expires_at), last_used_at=_aware(row.last_used_at), revoked_at=_aware(row.revoked_at))


def _write_private(path: Path, text: str) -> None:
    """Writes `text` to `path` readable by its owner only, replacing whatever was there (never following a link
    planted in its place)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    scratch.unlink(missing_ok=True)
    fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(scratch, path)
    except BaseException:
        scratch.unlink(missing_ok=True)
        raise
