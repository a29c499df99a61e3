"""LDAP login against a real OpenLDAP slapd on loopback (tests/auth/slapd.py), and the pure parts on their own."""

from __future__ import annotations

import logging
import socket
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.auth.slapd import SLAPD, SUFFIX, Slapd, group_dn, make_ca, start_slapd, user_dn
from yiwang.auth.directory import Directory, DirectoryUnavailable
from yiwang.auth.ldap import (
    LdapConfigError,
    LdapDirectory,
    directory_from_settings,
    fill_filter,
    name_attribute,
    normalise_dn,
    role_table,
    roles_of,
)
from yiwang.auth.roles import Role, RoleError
from yiwang.config import LdapSettings, SecretSetting

INJECTIONS = ["*", "admin*", "*)(uid=*", "x)(|(uid=*", "administrator)(|(uid=*", "*\x00"]


@pytest.fixture(scope="session")
def slapd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Slapd]:
    if not SLAPD.exists():
        pytest.skip(f"{SLAPD} is not installed (apt-get install slapd ldap-utils); CI installs it")
    server = start_slapd(tmp_path_factory.mktemp("slapd"))
    try:
        yield server
    finally:
        server.stop()


def group_roles() -> dict[str, list[str]]:
    # spelled unlike the server's DNs on purpose: matching must not depend on case or spacing
    return {
        group_dn("operators"): ["operator"],
        group_dn("engineers"): ["engineer"],
        "CN=Admins, OU=Groups, DC=City,DC=Gov,DC=CN": ["admin"],
        "cn=auditors,ou=groups,dc=city,dc=gov,dc=cn": ["Auditor"],
    }


def settings(server: Slapd, **overrides: Any) -> LdapSettings:
    values: dict[str, Any] = {
        "url": server.url, "bind_dn": server.service_dn, "user_base": f"ou=people,{SUFFIX}",
        "group_base": f"ou=groups,{SUFFIX}", "group_roles": group_roles(), "timeout_s": 3.0,
    }
    return LdapSettings(**(values | overrides))


def directory(server: Slapd, **overrides: Any) -> LdapDirectory:
    return LdapDirectory(settings(server, **overrides), server.password("service"))


# ---- the pure core -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("username", "expected"), [
    ("alice", "(uid=alice)"),
    ("*", r"(uid=\2a)"),
    ("admin*", r"(uid=admin\2a)"),
    ("*)(uid=*", r"(uid=\2a\29\28uid=\2a)"),
    ("x)(|(uid=*", r"(uid=x\29\28|\28uid=\2a)"),
    ("back\\slash", r"(uid=back\5cslash)"),
    ("nul\x00", r"(uid=nul\00)"),
])
def test_the_user_name_is_escaped_in_the_filter(username: str, expected: str) -> None:
    assert fill_filter("(uid={username})", username=username) == expected


def test_placeholders_are_filled_in_one_pass() -> None:
    # a user name that spells a placeholder must stay text, not pull the DN into its place
    filled = fill_filter("(|(member={dn})(memberUid={username}))", dn="cn=a\\,b,dc=x", username="{dn}")
    assert filled == r"(|(member=cn=a\5c,b,dc=x)(memberUid={dn}))"


@pytest.mark.parametrize(("left", "right"), [
    ("CN=NOC Ops, OU=Groups,DC=City,dc=gov", "cn=noc ops,ou=groups,dc=city,dc=gov"),
    ("cn = noc ops , ou=groups", "cn=noc ops,ou=groups"),
    (r"cn=a\2Cb,ou=g", r"cn=a\,b,ou=g"),
    ("cn=x+uid=y,ou=g", "UID=y+CN=x,ou=g"),
    (r"cn=\E4\B8\80\E7\BD\91,ou=g", "cn=一网,ou=g"),
])
def test_equal_dns_normalise_alike(left: str, right: str) -> None:
    assert normalise_dn(left) == normalise_dn(right)


@pytest.mark.parametrize(("left", "right"), [
    ("cn=operators,ou=groups,dc=city", "cn=operators,ou=groups,dc=town"),
    ("cn=operators,ou=groups", "ou=groups,cn=operators"),
    (r"cn=a\,b,ou=g", "cn=a,cn=b,ou=g"),
])
def test_different_dns_stay_different(left: str, right: str) -> None:
    assert normalise_dn(left) != normalise_dn(right)


def test_a_group_mapped_to_admin_and_auditor_is_refused_when_read() -> None:
    with pytest.raises(LdapConfigError, match="separation of duties"):
        role_table({"cn=both,ou=groups": ["admin", "auditor"]})


@pytest.mark.parametrize(("group_roles_", "message"), [
    ({"cn=x,ou=g": ["superuser"]}, "no role 'superuser'"),
    ({"cn=x,ou=g": []}, "at least one role"),
    ({"not a dn": ["viewer"]}, "not a DN"),
    ({"cn=x,ou=g": ["viewer"], "CN=X, OU=G": ["admin"]}, "twice"),
])
def test_bad_group_roles_are_refused(group_roles_: dict[str, list[str]], message: str) -> None:
    with pytest.raises(LdapConfigError, match=message):
        role_table(group_roles_)


def test_two_groups_that_give_admin_and_auditor_together_are_refused() -> None:
    table = role_table({"cn=admins,ou=g": ["admin"], "cn=auditors,ou=g": ["auditor"], "cn=ops,ou=g": ["operator"]})
    assert roles_of(["CN=Ops,OU=G", "cn=unmapped,ou=g"], table) == {Role.OPERATOR}
    assert roles_of(["cn=unmapped,ou=g"], table) == frozenset()
    with pytest.raises(RoleError):
        roles_of(["cn=admins,ou=g", "cn=auditors,ou=g"], table)


def test_the_name_attribute_comes_from_the_user_filter() -> None:
    assert name_attribute("(uid={username})") == "uid"
    assert name_attribute("(&(objectCategory=person)(sAMAccountName={username}))") == "sAMAccountName"
    assert name_attribute("(|(mail={username}@city.gov.cn)(cn=x))") is None


@pytest.mark.parametrize(("overrides", "message"), [
    ({"user_filter": "(objectClass=person)"}, "must contain {username}"),
    ({"group_filter": "(objectClass=groupOfNames)"}, "must contain {dn} or {username}"),
    ({"user_filter": "(uid={username}"}, "not an LDAP filter"),
    ({"url": "ldaps://127.0.0.1:636", "start_tls": True}, "start_tls"),
    ({"url": "http://127.0.0.1"}, "ldap://host"),
    ({"ca_file": Path("/nonexistent/ca.pem")}, "not a readable file"),
    ({"ca_file": Path(__file__)}, "ca_file"),
])
def test_settings_that_cannot_work_are_refused(overrides: dict[str, Any], message: str) -> None:
    base = {"url": "ldap://127.0.0.1:1", "user_base": "ou=people", "group_base": "ou=groups"}
    with pytest.raises(LdapConfigError, match=message):
        LdapDirectory(LdapSettings(**(base | overrides)), None)


def test_a_service_account_needs_its_password() -> None:
    base = LdapSettings(url="ldap://127.0.0.1:1", bind_dn="cn=svc", user_base="ou=p", group_base="ou=g")
    with pytest.raises(LdapConfigError, match="go together"):
        LdapDirectory(base, None)
    with pytest.raises(LdapConfigError, match="unauthenticated"):
        LdapDirectory(base, "")


# ---- against slapd -----------------------------------------------------------------------------------------------


def test_the_right_password_gives_the_mapped_roles(slapd: Slapd) -> None:
    ldap: Directory = directory(slapd)
    user = ldap.authenticate("alice", slapd.password("alice"))
    assert user is not None
    assert (user.name, user.dn, user.roles) == ("alice", user_dn("alice"), {Role.OPERATOR, Role.ENGINEER})
    # operators is a groupOfNames (member={dn}), engineers a posixGroup (memberUid={username}): the default
    # group_filter finds both
    assert {normalise_dn(g) for g in user.groups} == {normalise_dn(group_dn("operators")),
                                                      normalise_dn(group_dn("engineers"))}


def test_a_group_dn_spelled_differently_in_the_settings_still_maps(slapd: Slapd) -> None:
    user = directory(slapd).authenticate("dave", slapd.password("dave"))
    assert user is not None and user.roles == {Role.ADMIN}


def test_the_name_is_the_one_the_directory_holds(slapd: Slapd) -> None:
    user = directory(slapd).authenticate("ALICE", slapd.password("alice"))
    assert user is not None and user.name == "alice"


def test_the_filters_are_the_ones_configured(slapd: Slapd) -> None:
    # Active Directory style: a compound user filter, groups by member only (the posixGroup no longer counts)
    ldap = directory(slapd, user_filter="(&(objectClass=inetOrgPerson)(uid={username}))",
                     group_filter="(member={dn})")
    user = ldap.authenticate("alice", slapd.password("alice"))
    assert user is not None and user.roles == {Role.OPERATOR}


def test_logins_from_several_threads_at_once(slapd: Slapd) -> None:
    ldap = directory(slapd)
    expected = {"alice": {Role.OPERATOR, Role.ENGINEER}, "dave": {Role.ADMIN}, "eve": {Role.AUDITOR}}
    names = list(expected) * 6

    def login(name: str) -> frozenset[Role] | None:
        user = ldap.authenticate(name, slapd.password(name))
        return None if user is None else user.roles

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(login, names))
    assert results == [expected[name] for name in names]


def test_a_wrong_password_gives_none(slapd: Slapd) -> None:
    assert directory(slapd).authenticate("alice", slapd.password("bob")) is None
    assert directory(slapd).authenticate("alice", slapd.password("alice") + "x") is None


def test_an_unknown_user_gives_none(slapd: Slapd) -> None:
    assert directory(slapd).authenticate("mallory", slapd.password("alice")) is None


def test_a_name_that_matches_two_entries_gives_none(slapd: Slapd) -> None:
    # uid=twin under ou=people and under ou=contractors,ou=people, same password
    assert directory(slapd).authenticate("twin", slapd.password("twin")) is None


def test_an_empty_password_is_never_sent(slapd: Slapd, tmp_path: Path) -> None:
    # this slapd, like Active Directory, answers a DN with an empty password as a successful (anonymous) bind
    whoami = subprocess.run(["ldapwhoami", "-x", "-H", slapd.url, "-D", user_dn("alice"), "-w", ""],
                            capture_output=True, text=True, timeout=10)
    assert whoami.returncode == 0 and whoami.stdout.strip() == "anonymous", whoami
    assert directory(slapd).authenticate("alice", "") is None
    # and no connection is even opened: against a port where nothing listens it is still None, not "unavailable"
    nowhere = LdapDirectory(settings(slapd, url=f"ldap://127.0.0.1:{closed_port()}"), "irrelevant")
    assert nowhere.authenticate("alice", "") is None


@pytest.mark.parametrize("username", INJECTIONS)
def test_filter_injection_gives_none(slapd: Slapd, username: str) -> None:
    # with the password of "administrator": an unescaped "admin*" would match exactly that entry and log in
    assert directory(slapd).authenticate(username, slapd.password("administrator")) is None


def test_the_injection_control_logs_in(slapd: Slapd) -> None:
    user = directory(slapd).authenticate("administrator", slapd.password("administrator"))
    assert user is not None and user.roles == frozenset()


def test_a_user_in_no_mapped_group_has_no_role(slapd: Slapd) -> None:
    user = directory(slapd).authenticate("bob", slapd.password("bob"))
    assert user is not None
    assert user.roles == frozenset()
    assert [normalise_dn(g) for g in user.groups] == [normalise_dn(group_dn("visitors"))]


def test_admin_and_auditor_through_two_groups_give_no_role(slapd: Slapd, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="yiwang.auth.ldap"):
        user = directory(slapd).authenticate("carol", slapd.password("carol"))
    assert user is not None and user.roles == frozenset() and len(user.groups) == 2
    assert "carol" in caplog.text and "separation of duties" in caplog.text


def test_without_a_service_account_the_search_is_anonymous(slapd: Slapd) -> None:
    # anonymous search is off on this directory (access rules hide even the base): it cannot work, and says why
    anonymous = LdapDirectory(settings(slapd, bind_dn=None), None)
    with pytest.raises(DirectoryUnavailable, match="noSuchObject"):
        anonymous.authenticate("alice", slapd.password("alice"))


def test_a_wrong_service_password_is_unavailable(slapd: Slapd) -> None:
    wrong = LdapDirectory(settings(slapd), "not-the-service-password")
    with pytest.raises(DirectoryUnavailable, match="service account"):
        wrong.authenticate("alice", slapd.password("alice"))


def test_the_bind_password_comes_from_the_secret_setting(slapd: Slapd, tmp_path: Path) -> None:
    (tmp_path / "bind").write_text(slapd.password("service") + "\n")
    ldap = directory_from_settings(settings(slapd, bind_password=SecretSetting(file="bind")), base=tmp_path)
    assert ldap.authenticate("dave", slapd.password("dave")) is not None
    with pytest.raises(LdapConfigError, match="bind_password"):
        directory_from_settings(settings(slapd, bind_password=SecretSetting(env="YIWANG_TEST_NO_SUCH_VARIABLE")))


# ---- TLS -----------------------------------------------------------------------------------------------------------


def test_ldaps_with_the_ca_file(slapd: Slapd) -> None:
    user = directory(slapd, url=slapd.ldaps_url, ca_file=slapd.ca_file).authenticate("alice", slapd.password("alice"))
    assert user is not None and user.roles == {Role.OPERATOR, Role.ENGINEER}


def test_start_tls_with_the_ca_file(slapd: Slapd) -> None:
    ldap = directory(slapd, start_tls=True, ca_file=slapd.ca_file)
    user = ldap.authenticate("alice", slapd.password("alice"))
    assert user is not None and user.roles == {Role.OPERATOR, Role.ENGINEER}


@pytest.mark.parametrize("start_tls", [False, True], ids=["ldaps", "starttls"])
def test_a_certificate_from_another_ca_is_refused(slapd: Slapd, tmp_path: Path, start_tls: bool) -> None:
    other_ca = make_ca(tmp_path, "another CA").cert_file
    url = slapd.url if start_tls else slapd.ldaps_url
    ldap = directory(slapd, url=url, start_tls=start_tls, ca_file=other_ca)
    with pytest.raises(DirectoryUnavailable, match="(?i)certificate"):
        ldap.authenticate("alice", slapd.password("alice"))


def test_without_a_ca_file_the_system_cas_do_not_trust_a_private_ca(slapd: Slapd) -> None:
    with pytest.raises(DirectoryUnavailable, match="(?i)certificate"):
        directory(slapd, url=slapd.ldaps_url).authenticate("alice", slapd.password("alice"))


def test_a_certificate_for_another_name_is_refused(slapd: Slapd) -> None:
    ldap = directory(slapd, url=slapd.ldaps_url_unnamed, ca_file=slapd.ca_file)
    with pytest.raises(DirectoryUnavailable, match="not valid for '127.0.0.2'"):
        ldap.authenticate("alice", slapd.password("alice"))


# ---- a directory that is not there -------------------------------------------------------------------------------


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_stopped_slapd_is_unavailable_at_once(tmp_path: Path) -> None:
    if not SLAPD.exists():
        pytest.skip(f"{SLAPD} is not installed (apt-get install slapd ldap-utils); CI installs it")
    server = start_slapd(tmp_path / "slapd")
    try:
        ldap = directory(server, timeout_s=2.0)
        assert ldap.authenticate("alice", server.password("alice")) is not None
    finally:
        server.stop()
    started = time.monotonic()
    with pytest.raises(DirectoryUnavailable, match=r"127\.0\.0\.1"):
        ldap.authenticate("alice", server.password("alice"))
    assert time.monotonic() - started < 2.0


def test_a_server_that_never_answers_is_unavailable_within_the_timeout(slapd: Slapd) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # the kernel completes the handshake; nobody ever reads or answers
        port = silent.getsockname()[1]
        ldap = directory(slapd, url=f"ldap://127.0.0.1:{port}", timeout_s=1.0)
        started = time.monotonic()
        with pytest.raises(DirectoryUnavailable):
            ldap.authenticate("alice", slapd.password("alice"))
        assert time.monotonic() - started < 3.0


# ---- secrets -----------------------------------------------------------------------------------------------------


def test_passwords_never_reach_exceptions_or_logs(slapd: Slapd, tmp_path: Path,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    canary_bind = "canary-bind-7f3e9a1c"
    canary_user = "canary-user-0b5d2e88"
    user_password = slapd.password("alice")
    seen: list[str] = []

    def attempt(ldap: LdapDirectory, username: str, password: str) -> None:
        try:
            seen.append(repr(ldap.authenticate(username, password)))
        except DirectoryUnavailable as exc:
            seen.append(f"{exc!s} {exc!r} {exc.__cause__!r} {exc.__context__!r}")

    other_ca = make_ca(tmp_path, "another CA").cert_file
    with caplog.at_level(logging.DEBUG):
        attempt(directory(slapd), "alice", user_password)
        attempt(directory(slapd), "alice", canary_user)
        attempt(directory(slapd), "carol", slapd.password("carol"))
        attempt(LdapDirectory(settings(slapd), canary_bind), "alice", user_password)
        attempt(LdapDirectory(settings(slapd, url=f"ldap://127.0.0.1:{closed_port()}"), canary_bind),
                "alice", canary_user)
        attempt(LdapDirectory(settings(slapd, url=slapd.ldaps_url, ca_file=other_ca), canary_bind),
                "alice", canary_user)
        attempt(LdapDirectory(settings(slapd, start_tls=True, ca_file=other_ca), canary_bind), "alice", canary_user)
    text = caplog.text + "\n".join(seen)
    assert "unavailable" not in seen[0] and "alice" in seen[0]  # the attempts did run
    assert sum("cannot be used" in line or "refused the service account" in line for line in seen) == 4
    for secret in (canary_bind, canary_user, user_password, slapd.password("carol"), slapd.password("service")):
        assert secret not in text
