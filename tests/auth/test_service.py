"""AuthService over real databases (a SQLite file and a throwaway PostgreSQL), with an injected clock and Argon2
verifications counted through a wrapper around argon2-cffi's hasher (cheap parameters, the real algorithm)."""

from __future__ import annotations

import importlib.util
import logging
import os
import stat
import threading
from collections.abc import Callable, Iterator
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.auth.test_passwords import CountingHasher
from tests.store.postgres import Cluster, bin_dir, cluster
from yiwang.auth.directory import DirectoryUnavailable, DirectoryUser
from yiwang.auth.passwords import Passwords
from yiwang.auth.roles import Identity, Role, RoleError
from yiwang.auth.service import (
    INITIAL_PASSWORD_FILE,
    LAST_USED_EVERY_S,
    ROW_RECHECK_S,
    AuthError,
    AuthService,
    TokenRecord,
    UserError,
    UserRecord,
)
from yiwang.auth.tokens import new_token
from yiwang.config import AuthSettings
from yiwang.schema import api_tokens, users
from yiwang.store import open_store

T0 = 1_800_000_000.0
PASSWORD = "Tiger-lily-42"
SETTINGS = AuthSettings(lockout_failures=5, lockout_s=900, token_recheck_s=60)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


class Events(list[tuple[str, str, str, str]]):
    def __call__(self, kind: str, subject: str, source: str, detail: str) -> None:
        self.append((kind, subject, source, detail))

    def kinds(self) -> list[str]:
        return [e[0] for e in self]


class FakeDirectory:
    """The Directory protocol over a dict: enough for the service's decisions (the LDAP helper tests real slapd)."""

    def __init__(self, people: dict[str, tuple[str, frozenset[Role]]]) -> None:
        self.people = people  # name -> (password, roles)
        self.down = False
        self.calls: list[str] = []

    def authenticate(self, username: str, password: str) -> DirectoryUser | None:
        self.calls.append(username)
        if self.down:
            raise DirectoryUnavailable("ldap://127.0.0.1:1: connection refused")
        known = self.people.get(username.lower())
        if known is None or known[0] != password:
            return None
        return DirectoryUser(username.lower(), f"uid={username.lower()},ou=people,dc=yiwang,dc=test",
                             ("cn=ops,ou=groups,dc=yiwang,dc=test",), known[1])


@pytest.fixture(scope="module")
def postgres() -> Iterator[Cluster]:
    bins = bin_dir()
    if bins is None or importlib.util.find_spec("psycopg") is None:
        pytest.skip("PostgreSQL's server binaries or psycopg are missing")
    with cluster(bins) as running:
        yield running


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'yiwang.sqlite'}"
    else:
        url = request.getfixturevalue("postgres").new_database()
    store = open_store(url)  # the schema from the migrations, as yiwang run makes it
    yield store.engine
    store.close()


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[sa.Engine]:
    store = open_store(f"sqlite:///{tmp_path / 'yiwang.sqlite'}")
    yield store.engine
    store.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def events() -> Events:
    return Events()


@pytest.fixture
def hasher() -> CountingHasher:
    return CountingHasher()


@pytest.fixture
def make(engine: sa.Engine, clock: Clock, events: Events, hasher: CountingHasher) -> Callable[..., AuthService]:
    def build(**overrides: Any) -> AuthService:
        options: dict[str, Any] = {"on_security_event": events, "clock": clock, "passwords": Passwords(hasher)}
        options.update(overrides)
        return AuthService(engine, SETTINGS, **options)
    return build


@pytest.fixture
def service(make: Callable[..., AuthService]) -> AuthService:
    return make()


# --- users and logins -------------------------------------------------------------------------------------------


def test_a_local_user_logs_in_and_gets_their_roles(service: AuthService, clock: Clock) -> None:
    record = service.add_user("li", ["operator", "approver"], PASSWORD)
    assert record.source == "local" and record.role_names == ["approver", "operator"] and record.has_password
    clock.now += 10
    identity = service.login("li", PASSWORD, "10.1.1.5")
    assert identity == Identity("li", frozenset({Role.OPERATOR, Role.APPROVER}), "user")
    after = service.user("li")
    assert after is not None and after.last_login_at is not None and after.last_login_at.timestamp() == T0 + 10


def test_records_hold_no_hash() -> None:
    for record in (UserRecord, TokenRecord):
        assert not [f.name for f in fields(record) if "hash" in f.name or "secret" in f.name]


def test_a_wrong_password_and_an_unknown_user_each_cost_one_argon2_verification(
        service: AuthService, hasher: CountingHasher, events: Events) -> None:
    service.add_user("li", ["viewer"], PASSWORD)
    for name, password, reason in [("li", "Wrong-pass-1", "wrong"), ("nobody", PASSWORD, "unknown"),
                                   ("not a name!", PASSWORD, "unknown"), ("li", "", "wrong")]:
        hasher.verifications = 0
        with pytest.raises(AuthError) as caught:
            service.login(name, password, "10.0.0.9")
        assert caught.value.reason == reason
        assert hasher.verifications == 1
    assert events.kinds() == ["login-failed"] * 4
    assert events[0] == ("login-failed", "li", "10.0.0.9", "wrong password (1 in a row)")
    assert events[1] == ("login-failed", "nobody", "10.0.0.9", "unknown")
    assert events[2][1] == "(not a user name)"  # what was typed as a name may be a password: not recorded


def test_five_failures_lock_the_account_until_lockout_s_has_passed(
        service: AuthService, clock: Clock, events: Events) -> None:
    service.add_user("li", ["viewer"], PASSWORD)
    for attempt in range(5):
        clock.now += 1
        with pytest.raises(AuthError, match="wrong password") as caught:
            service.login("li", f"Wrong-pass-{attempt}", "10.0.0.9")
        assert caught.value.reason == "wrong"
    assert events.kinds() == ["login-failed"] * 5 + ["account-locked"]
    assert events[-1][1:3] == ("li", "10.0.0.9")
    locked = service.user("li")
    assert locked is not None and locked.locked_until is not None
    assert locked.locked_until.timestamp() == T0 + 5 + 900 and not locked.locked

    clock.now += 899
    with pytest.raises(AuthError) as caught:
        service.login("li", PASSWORD, "10.0.0.9")  # the right password, but locked
    assert caught.value.reason == "locked"
    clock.now += 1
    assert service.login("li", PASSWORD, "10.0.0.9").name == "li"
    after = service.user("li")
    assert after is not None and after.failed_logins == 0 and after.locked_until is None


def test_a_good_login_resets_the_count(service: AuthService) -> None:
    service.add_user("li", ["viewer"], PASSWORD)
    for _ in range(2):
        for _ in range(4):
            with pytest.raises(AuthError):
                service.login("li", "Wrong-pass-1", "h")
        service.login("li", PASSWORD, "h")


def test_an_admin_lock_holds_until_unlocked_and_unlock_lifts_a_failure_lock(
        service: AuthService, clock: Clock) -> None:
    service.add_user("li", ["viewer"], PASSWORD)
    assert service.lock("li").locked
    clock.now += 10 * 86400
    with pytest.raises(AuthError) as caught:
        service.login("li", PASSWORD, "h")
    assert caught.value.reason == "locked"
    service.unlock("li")
    service.login("li", PASSWORD, "h")
    for _ in range(5):
        with pytest.raises(AuthError):
            service.login("li", "Wrong-pass-1", "h")
    assert service.unlock("li").locked_until is None
    service.login("li", PASSWORD, "h")


def test_concurrent_failures_all_count(service: AuthService) -> None:
    service.add_user("li", ["viewer"], PASSWORD)
    reasons: list[str] = []

    def attempt() -> None:
        try:
            service.login("li", "Wrong-pass-1", "h")
        except AuthError as exc:
            reasons.append(exc.reason)

    threads = [threading.Thread(target=attempt) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert reasons == ["wrong"] * 5
    with pytest.raises(AuthError) as caught:
        service.login("li", PASSWORD, "h")
    assert caught.value.reason == "locked"


def test_managing_users(service: AuthService) -> None:
    service.add_user("li", ["viewer"], PASSWORD)
    with pytest.raises(UserError, match="there is a user li already"):
        service.add_user("li", ["viewer"], PASSWORD)
    with pytest.raises(RoleError, match="separation of duties"):
        service.add_user("zhao", ["admin", "auditor"], PASSWORD)
    with pytest.raises(RoleError, match="no role 'root'"):
        service.set_roles("li", ["root"])
    with pytest.raises(UserError, match="at least 10"):
        service.add_user("zhao", ["viewer"], "Ab1-")
    service.add_user("zhang", ["viewer"], PASSWORD)
    with pytest.raises(UserError, match="user name"):
        service.set_password("zhang", "Zhang-pass-1")
    with pytest.raises(UserError) as caught:
        service.add_user("Secret Pass 1!", ["viewer"], PASSWORD)
    assert "Secret" not in str(caught.value)
    assert service.user("zhao") is None

    assert service.set_roles("li", ["engineer", "approver"]).role_names == ["approver", "engineer"]
    assert service.login("li", PASSWORD, "h").roles == {Role.ENGINEER, Role.APPROVER}
    changed = service.set_password("li", "Other-pass-77")
    assert changed.password_changed_at is not None
    with pytest.raises(AuthError):
        service.login("li", PASSWORD, "h")
    service.login("li", "Other-pass-77", "h")

    service.add_user("wang", ["auditor"], None)  # no password yet: cannot log in
    assert [u.name for u in service.users()] == ["li", "wang", "zhang"]
    with pytest.raises(AuthError) as denied:
        service.login("wang", "", "h")
    assert denied.value.reason == "wrong"
    service.remove("li")
    with pytest.raises(UserError, match="no user li"):
        service.remove("li")
    with pytest.raises(AuthError) as gone:
        service.login("li", "Other-pass-77", "h")
    assert gone.value.reason == "unknown"
    for change in (lambda: service.lock("nobody"), lambda: service.unlock("nobody"),
                   lambda: service.set_password("nobody", PASSWORD), lambda: service.set_roles("nobody", ["viewer"])):
        with pytest.raises(UserError, match="no user nobody"):
            change()


def test_an_old_hash_is_replaced_at_the_next_good_login(make: Callable[..., AuthService], engine: sa.Engine) -> None:
    make(passwords=Passwords(CountingHasher(time_cost=1))).add_user("li", ["viewer"], PASSWORD)
    stronger = make(passwords=Passwords(CountingHasher(time_cost=2)))
    stronger.login("li", PASSWORD, "h")
    with engine.connect() as conn:
        stored = conn.execute(sa.select(users.c.password_hash)).scalar_one()
    assert ",t=2," in stored
    stronger.login("li", PASSWORD, "h")


# --- tokens -----------------------------------------------------------------------------------------------------


def test_a_token_verifies_to_its_identity(service: AuthService) -> None:
    text, record = service.create_token("prometheus", ["viewer"], 90 * 86400, "admin")
    assert record.name == "prometheus" and record.created_by == "admin" and record.revoked_at is None
    assert record.expires_at is not None and record.expires_at.timestamp() == T0 + 90 * 86400
    identity = service.verify_token(text, "10.2.0.1")
    assert identity == Identity("prometheus", frozenset({Role.VIEWER}), "token", token_id=record.id)
    assert [t.id for t in service.tokens()] == [record.id]
    assert text.split("_", 2)[2] not in repr(service.tokens())


def test_the_second_verification_does_not_run_argon2_until_token_recheck_s(
        service: AuthService, hasher: CountingHasher, clock: Clock) -> None:
    text, _ = service.create_token("ci", ["operator"], None, "admin")
    hasher.verifications = 0
    service.verify_token(text, "h")
    assert hasher.verifications == 1
    for _ in range(20):
        clock.now += 2.9
        service.verify_token(text, "h")  # crosses ROW_RECHECK_S several times: rows read again, no Argon2
    assert hasher.verifications == 1
    clock.now = T0 + 60
    service.verify_token(text, "h")
    assert hasher.verifications == 2


@pytest.mark.parametrize("presented", ["", "Bearer abc", "yw_" + "0" * 24 + "_" + "A" * 42, "yw_" + "x" * 100_000])
def test_malformed_tokens(service: AuthService, hasher: CountingHasher, events: Events, presented: str) -> None:
    with pytest.raises(AuthError) as caught:
        service.verify_token(presented, "10.9.9.9")
    assert caught.value.reason == "malformed" and str(caught.value) == "not a yiwang token"
    assert hasher.verifications == 0  # the format is public: no secret to protect by timing
    assert events == [("token-rejected", "", "10.9.9.9", "malformed")]


def test_unknown_and_wrong_tokens_each_cost_one_argon2_verification(
        service: AuthService, hasher: CountingHasher, events: Events) -> None:
    real, record = service.create_token("ci", ["operator"], None, "admin")
    unknown, parts = new_token()
    wrong = real[: -43] + new_token()[1].secret
    for presented, reason, subject in [(unknown, "unknown", parts.id), (wrong, "wrong", record.id)]:
        hasher.verifications = 0
        for _ in range(2):  # refusals are not cached
            with pytest.raises(AuthError) as caught:
                service.verify_token(presented, "10.9.9.9")
            assert caught.value.reason == reason
        assert hasher.verifications == 2
        assert events[-1] == ("token-rejected", subject, "10.9.9.9", reason)


def test_an_expired_token_is_refused_cached_or_not(make: Callable[..., AuthService], clock: Clock) -> None:
    service = make()
    text, _ = service.create_token("ci", ["viewer"], 100, "admin")
    service.verify_token(text, "h")
    clock.now += 99
    service.verify_token(text, "h")
    clock.now += 1
    with pytest.raises(AuthError) as cached:
        service.verify_token(text, "h")
    assert cached.value.reason == "expired"
    with pytest.raises(AuthError) as fresh:
        make().verify_token(text, "h")
    assert fresh.value.reason == "expired"


def test_a_revocation_takes_effect_at_once(service: AuthService) -> None:
    text, record = service.create_token("ci", ["operator"], None, "admin")
    service.verify_token(text, "h")
    revoked = service.revoke_token(record.id)
    assert revoked.revoked_at is not None
    with pytest.raises(AuthError) as caught:
        service.verify_token(text, "h")  # no time has passed: the cache did not keep it
    assert caught.value.reason == "revoked"
    assert service.revoke_token(record.id).revoked_at == revoked.revoked_at  # again: nothing changes


def test_a_revocation_by_another_process_takes_effect_within_the_row_recheck(
        make: Callable[..., AuthService], clock: Clock) -> None:
    api, cli = make(), make()
    text, record = api.create_token("ci", ["operator"], None, "admin")
    api.verify_token(text, "h")
    cli.revoke_token(record.id)
    clock.now += ROW_RECHECK_S
    with pytest.raises(AuthError) as caught:
        api.verify_token(text, "h")
    assert caught.value.reason == "revoked"


def test_revoking_by_a_pasted_token_or_a_bad_id(service: AuthService) -> None:
    text, record = service.create_token("ci", ["operator"], None, "admin")
    assert service.revoke_token(text).id == record.id
    with pytest.raises(UserError, match="no token 0123456789abcdef01234567"):
        service.revoke_token("0123456789abcdef01234567")
    with pytest.raises(UserError, match="24 hexadecimal digits") as caught:
        service.revoke_token("yw_" + "0" * 24 + "_canary-not-a-token")
    assert "canary" not in str(caught.value)


def test_last_used_is_written_at_most_once_a_minute(service: AuthService, clock: Clock) -> None:
    text, record = service.create_token("ci", ["operator"], None, "admin")

    def last_used() -> float:
        token = service.token(record.id)
        assert token is not None and token.last_used_at is not None
        return token.last_used_at.timestamp()

    service.verify_token(text, "h")
    assert last_used() == T0
    clock.now += 30
    service.verify_token(text, "h")
    assert last_used() == T0
    clock.now += LAST_USED_EVERY_S - 30
    service.verify_token(text, "h")
    assert last_used() == T0 + LAST_USED_EVERY_S


def test_token_creation_is_checked(service: AuthService) -> None:
    with pytest.raises(RoleError):
        service.create_token("ci", ["admin", "auditor"], None, "admin")
    with pytest.raises(RoleError):
        service.create_token("ci", [], None, "admin")
    for expires in (0, -5, 11 * 366 * 86400):
        with pytest.raises(UserError, match="expires"):
            service.create_token("ci", ["viewer"], expires, "admin")
    with pytest.raises(UserError, match="token name"):
        service.create_token("../ci", ["viewer"], None, "admin")
    assert service.tokens() == []


def test_concurrent_verifications_share_the_cache(service: AuthService, hasher: CountingHasher) -> None:
    text, _ = service.create_token("ci", ["operator"], None, "admin")
    hasher.verifications = 0
    seen: list[Identity] = []
    lock = threading.Lock()

    def work() -> None:
        for _ in range(50):
            identity = service.verify_token(text, "h")
            with lock:
                seen.append(identity)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(seen) == 400 and len(set(seen)) == 1
    assert 1 <= hasher.verifications <= 8  # at most each thread's first, before the cache held it


# --- secrets never leak -----------------------------------------------------------------------------------------


def test_canaries_never_appear_in_errors_records_events_logs_or_rows(
        service: AuthService, events: Events, engine: sa.Engine, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    canary = "Canary-Pw-7f3a9q"
    raised: list[Exception] = []

    def attempt(action: Callable[[], object]) -> None:
        try:
            action()
        except Exception as exc:  # noqa: BLE001 - every kind is examined below
            raised.append(exc)

    service.add_user("zhang", ["viewer"], canary)
    attempt(lambda: service.login("zhang", canary + "x", "h"))
    attempt(lambda: service.login("nobody", canary, "h"))
    attempt(lambda: service.login("not a name " + canary, canary, "h"))
    attempt(lambda: service.add_user("zhao", ["viewer"], "canary"))
    attempt(lambda: service.set_password("zhang", "zhang" + canary))
    service.login("zhang", canary, "h")
    token, record = service.create_token("ci", ["operator"], None, "admin")
    secret = token.split("_", 2)[2]
    attempt(lambda: service.verify_token(token[:-1] + ("A" if token[-1] != "A" else "B"), "h"))
    attempt(lambda: service.verify_token(token + "x", "h"))
    attempt(lambda: service.verify_token("yw_" + canary, "h"))
    service.verify_token(token, "h")
    service.revoke_token(record.id)
    attempt(lambda: service.verify_token(token, "h"))
    attempt(lambda: service.revoke_token(token + canary))

    with engine.connect() as conn:
        rows = [repr(tuple(r)) for table in (users, api_tokens) for r in conn.execute(sa.select(table))]
    places = {
        "exceptions": [str(e) for e in raised] + [repr(e) for e in raised] + [repr(e.args) for e in raised],
        "events": [repr(events)],
        "records": [repr(service.users()), repr(service.tokens()), repr(record)],
        "logs": [caplog.text] + [repr(r.args) for r in caplog.records],
        "rows": rows,
    }
    assert len(raised) == 10
    for place, texts in places.items():
        for text in texts:
            assert canary not in text and secret not in text and token not in text, place


# --- the directory ----------------------------------------------------------------------------------------------


def test_directory_users_get_their_roles_from_the_directory_at_each_login(
        make: Callable[..., AuthService], clock: Clock) -> None:
    directory = FakeDirectory({"wang": ("Dir-pass-123", frozenset({Role.ENGINEER}))})
    service = make(directory=directory)
    identity = service.login("wang", "Dir-pass-123", "h")
    assert identity == Identity("wang", frozenset({Role.ENGINEER}), "ldap")
    record = service.user("wang")
    assert record is not None and record.source == "ldap" and not record.has_password
    assert record.last_login_at is not None and record.last_login_at.timestamp() == T0

    directory.people["wang"] = ("Dir-pass-123", frozenset({Role.VIEWER, Role.APPROVER}))
    clock.now += 60
    assert service.login("wang", "Dir-pass-123", "h").roles == {Role.VIEWER, Role.APPROVER}
    with pytest.raises(UserError, match="directory"):
        service.set_password("wang", PASSWORD)
    with pytest.raises(UserError, match="directory"):
        service.set_roles("wang", ["admin"])


def test_the_directory_refusals(make: Callable[..., AuthService], events: Events, hasher: CountingHasher) -> None:
    directory = FakeDirectory({"wang": ("Dir-pass-123", frozenset()),
                               "zhao": ("Dir-pass-456", frozenset({Role.ADMIN, Role.AUDITOR}))})
    service = make(directory=directory)
    expected = [("wang", "Dir-pass-123", "no-role"), ("zhao", "Dir-pass-456", "no-role"),
                ("nobody", "Dir-pass-123", "unknown"), ("wang", "", "unknown")]
    for name, password, reason in expected:
        with pytest.raises(AuthError) as caught:
            service.login(name, password, "10.3.3.3")
        assert caught.value.reason == reason
    assert directory.calls == ["wang", "zhao", "nobody"]  # an empty password never reaches it (anonymous bind)
    assert service.users() == []  # refused people leave no row
    directory.down = True
    with pytest.raises(AuthError) as down:
        service.login("wang", "Dir-pass-123", "10.3.3.3")
    assert down.value.reason == "directory-down" and "connection refused" not in str(down.value)
    assert [e[3] for e in events] == ["no-role", "no-role", "unknown", "unknown", "directory-down"]
    assert hasher.verifications == 0  # the directory judged these passwords


def test_directory_users_are_locked_out_too(make: Callable[..., AuthService], clock: Clock, events: Events) -> None:
    directory = FakeDirectory({"wang": ("Dir-pass-123", frozenset({Role.OPERATOR}))})
    service = make(directory=directory)
    service.login("wang", "Dir-pass-123", "h")
    for _ in range(5):
        with pytest.raises(AuthError):
            service.login("WANG", "Wrong-pass-1", "h")  # the directory ignores case: so does the count
    assert "account-locked" in events.kinds()
    directory.calls.clear()
    with pytest.raises(AuthError) as caught:
        service.login("wang", "Dir-pass-123", "h")
    assert caught.value.reason == "locked" and directory.calls == []
    clock.now += 900
    assert service.login("wang", "Dir-pass-123", "h").name == "wang"
    service.lock("wang")
    with pytest.raises(AuthError, match="locked"):
        service.login("wang", "Dir-pass-123", "h")


def test_a_local_user_comes_before_the_directory(make: Callable[..., AuthService]) -> None:
    directory = FakeDirectory({"li": ("Dir-pass-123", frozenset({Role.ADMIN}))})
    service = make(directory=directory)
    service.add_user("li", ["viewer"], PASSWORD)
    with pytest.raises(AuthError) as caught:
        service.login("li", "Dir-pass-123", "h")
    assert caught.value.reason == "wrong" and directory.calls == []
    assert service.login("li", PASSWORD, "h").roles == {Role.VIEWER}

    service.add_user("li3", ["viewer"], PASSWORD)
    # a directory whose canonical name is a local user's: refused, the local row untouched
    renaming = FakeDirectory({"li-alias": ("Dir-pass-123", frozenset({Role.ADMIN}))})
    renaming.authenticate = lambda u, p: DirectoryUser("li3", "uid=li3", (), frozenset({Role.ADMIN}))  # type: ignore
    with pytest.raises(AuthError) as clash:
        make(directory=renaming).login("li-alias", "Dir-pass-123", "h")
    assert clash.value.reason == "unknown"
    li3 = service.user("li3")
    assert li3 is not None and li3.source == "local" and li3.role_names == ["viewer"]


# --- the first admin --------------------------------------------------------------------------------------------


def test_bootstrap_admin_only_on_an_empty_database(make: Callable[..., AuthService], tmp_path: Path) -> None:
    service = make()
    state = tmp_path / "state"
    password = service.bootstrap_admin(state)
    assert password is not None
    path = state / INITIAL_PASSWORD_FILE
    assert path.read_text() == password + "\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and path.stat().st_uid == os.getuid()
    assert service.login("admin", password, "127.0.0.1").roles == {Role.ADMIN}
    assert service.bootstrap_admin(state) is None
    assert path.read_text() == password + "\n"
    assert [p.name for p in state.iterdir()] == [INITIAL_PASSWORD_FILE]  # no scratch file left


def test_bootstrap_admin_does_nothing_when_a_token_exists(sqlite_engine: sa.Engine, tmp_path: Path) -> None:
    service = AuthService(sqlite_engine, SETTINGS, passwords=Passwords(CountingHasher()))
    service.create_token("ci", ["viewer"], None, "admin")
    assert service.bootstrap_admin(tmp_path) is None
    assert service.users() == [] and not (tmp_path / INITIAL_PASSWORD_FILE).exists()


def test_bootstrap_admin_replaces_an_old_file_without_following_a_link(sqlite_engine: sa.Engine,
                                                                       tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.write_text("untouched")
    (tmp_path / INITIAL_PASSWORD_FILE).symlink_to(target)
    password = AuthService(sqlite_engine, SETTINGS, passwords=Passwords(CountingHasher())).bootstrap_admin(tmp_path)
    assert password is not None and target.read_text() == "untouched"
    assert (tmp_path / INITIAL_PASSWORD_FILE).read_text() == password + "\n"
    assert not (tmp_path / INITIAL_PASSWORD_FILE).is_symlink()


def test_the_event_loop_path_answers_only_from_a_fresh_cache(service: AuthService, clock: Clock,
                                                             hasher: CountingHasher) -> None:
    text, record = service.create_token("ci", ["viewer"], 3600, "admin")
    assert service.cached_identity(text) is None  # never verified: the slow path must run
    identity = service.verify_token(text, "h")
    verified = hasher.verifications
    assert service.cached_identity(text) == identity
    assert service.cached_identity(text[:-1] + ("A" if text[-1] != "A" else "B")) is None
    clock.now += 5  # the row is due to be read again: not without I/O
    assert service.cached_identity(text) is None
    service.verify_token(text, "h")
    assert service.cached_identity(text) == identity and hasher.verifications == verified
    service.revoke_token(record.id)
    assert service.cached_identity(text) is None
