"""Directory login through `yiwang run`: a person logs in with their LDAP (ldaps) account and gets the roles of
their groups; the directory going down is a clear refusal, not a hang; its passwords never reach the log."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from lab import lab_inventory_dir
from tests.auth.slapd import GROUPS, SLAPD, SUFFIX, Slapd, start_slapd
from tests.e2e.conftest import free_tcp_port, start_run, stop_run, wait_for_api, write_config


@pytest.fixture
def slapd(tmp_path: Path) -> Iterator[Slapd]:
    if not SLAPD.exists():
        pytest.skip(f"{SLAPD} is not installed (apt-get install slapd ldap-utils); CI installs it")
    server = start_slapd(tmp_path / "slapd")
    try:
        yield server
    finally:
        server.stop()


def test_ldap_login_through_yiwang_run(lab_state: Path, slapd: Slapd, tmp_path: Path) -> None:
    port = free_tcp_port()
    bind_secret = tmp_path / "bind.secret"
    bind_secret.write_text(slapd.password("service"))
    bind_secret.chmod(0o600)
    config = write_config(
        tmp_path / "yiwang.yaml", tmp_path / "state", inventory=[str(lab_inventory_dir(lab_state))],
        database_url=f"sqlite:///{tmp_path / 'y.sqlite'}", api={"port": port}, ssh={"enabled": False},
        archive={"enabled": False}, audit={"path": str(tmp_path / "audit.jsonl")},
        auth={"ldap": {"url": slapd.ldaps_url, "ca_file": str(slapd.ca_file), "bind_dn": slapd.service_dn,
                       "bind_password": {"file": str(bind_secret)}, "user_base": f"ou=people,{SUFFIX}",
                       "group_base": GROUPS, "timeout_s": 2,
                       "group_roles": {f"cn=operators,{GROUPS}": ["operator"],
                                       f"cn=engineers,{GROUPS}": ["engineer"]}}})
    log = tmp_path / "yiwang.log"
    process = start_run(config, log, "--log-level", "debug", env={"XDG_STATE_HOME": str(tmp_path / "x")})
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_api(url, process, log)
        alice = httpx.post(f"{url}/api/auth/login", json={"name": "alice", "password": slapd.password("alice")})
        assert alice.status_code == 200, alice.text
        assert alice.json()["roles"] == ["engineer", "operator"]  # groupOfNames member and posixGroup memberUid
        me = httpx.get(f"{url}/api/auth/me", cookies=alice.cookies)
        assert me.json()["kind"] == "ldap"
        assert httpx.post(f"{url}/api/auth/login", json={"name": "alice", "password": "not-hers"}).status_code == 401
        # bob's only group maps to no role: he is who he says, and may still do nothing
        bob = httpx.post(f"{url}/api/auth/login", json={"name": "bob", "password": slapd.password("bob")})
        assert bob.status_code == 401
        assert httpx.post(f"{url}/api/auth/login", json={"name": "*", "password": "x"}).status_code == 401
        slapd.stop()
        started = time.monotonic()
        down = httpx.post(f"{url}/api/auth/login", json={"name": "alice", "password": slapd.password("alice")},
                          timeout=30)
        assert down.status_code == 503 and time.monotonic() - started < 15
    finally:
        stop_run(process)
    text = log.read_text()
    for secret in (slapd.password("service"), slapd.password("alice"), slapd.password("bob")):
        assert secret not in text
    assert "directory" in text and "Traceback" not in text
