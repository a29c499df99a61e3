"""Who may do what, tried as an attacker would: real HTTP against `yiwang run` on the small lab, at debug logging,
with canary secrets that must never come back out (not in a response, the log, or the audit trail)."""

from __future__ import annotations

import json
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from lab import lab_inventory_dir
from tests.audit.rsyslog import Rsyslog
from tests.e2e.conftest import api_token, free_tcp_port, start_run, stop_run, wait_for_api, write_config

# Canaries: if any of these ever shows outside the request that carried it, a secret has leaked.
PASSWORDS = {
    "viewer1": "Canary-Vw-7f3a!x",
    "operator1": "Canary-Op-9c1e!y",
    "approver1": "Canary-Ap-2b8d!z",
    "approver2": "Canary-Ap2-4e6f!w",
    "admin1": "Canary-Ad-5a0c!v",
    "auditor1": "Canary-Au-8d2b!u",
    "engineer1": "Canary-En-3f9a!t",
}
ROLES = {
    "viewer1": ["viewer"], "operator1": ["operator", "approver"], "approver1": ["approver"],
    "approver2": ["approver"], "admin1": ["admin"], "auditor1": ["auditor"], "engineer1": ["engineer"],
}


@dataclass
class Running:
    url: str
    config: Path
    log: Path
    audit: Path
    process: subprocess.Popen[bytes]
    syslog: Rsyslog
    tokens: dict[str, str] = field(default_factory=dict)
    seen: list[str] = field(default_factory=list)  # every response body, for the canary check

    def client(self, token: str | None = None, **kwargs: Any) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, event_hooks={"response": [self._keep]}, **kwargs)

    def _keep(self, response: httpx.Response) -> None:
        response.read()
        self.seen.append(json.dumps(dict(response.headers)) + response.text)


def yiwang(config: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "yiwang", *args, "-c", str(config)], capture_output=True, text=True,
                          input=stdin, timeout=60)


@pytest.fixture(scope="module")
def running(lab_state: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    work = tmp_path_factory.mktemp("access")
    port = free_tcp_port()
    receiver = Rsyslog(work / "rsyslog")  # the security management platform (安管平台)
    receiver.start()
    audit = work / "audit" / "audit.jsonl"
    # a state folder of its own: the backups these make must not be the lab's archive other tests read
    config = write_config(work / "yiwang.yaml", work / "state", inventory=[str(lab_inventory_dir(lab_state))],
                          database_url=f"sqlite:///{work / 'y.sqlite'}",
                          api={"port": port}, ssh={"enabled": False},
                          audit={"path": str(audit), "syslog": {"host": "127.0.0.1", "port": receiver.tcp_port,
                                                                "protocol": "tcp"}},
                          auth={"lockout_failures": 5, "lockout_s": 3600, "token_recheck_s": 60})
    for name, password in PASSWORDS.items():
        secret = work / f"{name}.password"
        secret.write_text(password + "\n")
        command = ["auth", "user", "add", name, "--password-file", str(secret)]
        for role in ROLES[name]:
            command += ["--role", role]
        done = yiwang(config, *command)
        assert done.returncode == 0, done.stderr
    log = work / "yiwang.log"
    process = start_run(config, log, "--log-level", "debug", env={"XDG_STATE_HOME": str(work / "xdg")})
    run = Running(f"http://127.0.0.1:{port}", config, log, audit, process, receiver)
    run.tokens["viewer"] = api_token(config, "viewer", name="viewer-token")
    run.tokens["admin"] = api_token(config, "admin", name="admin-token")
    try:
        wait_for_api(run.url, process, log)
        yield run
    finally:
        stop_run(process)
        receiver.stop()


def raw_status(url: str, header: bytes) -> int:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(b"GET /api/areas HTTP/1.1\r\nHost: " + host.encode() + b"\r\n" + header
                     + b"\r\nConnection: close\r\n\r\n")
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    return int(answer.split(b" ", 2)[1])


def login(run: Running, name: str, password: str | None = None) -> tuple[httpx.Client, str]:
    client = run.client()
    answer = client.post("/api/auth/login", json={"name": name, "password": password or PASSWORDS[name]})
    assert answer.status_code == 200, answer.text
    return client, answer.json()["csrf_token"]


def audit_records(run: Running) -> list[dict[str, Any]]:
    return [json.loads(line) for line in run.audit.read_text(encoding="utf-8").splitlines()]


def test_no_token_malformed_and_wrong_tokens_are_refused(running: Running) -> None:
    anonymous = running.client()
    answer = anonymous.get("/api/areas")
    assert answer.status_code == 401 and answer.headers["www-authenticate"].startswith("Bearer")
    assert anonymous.get("/metrics").status_code == 401  # api.metrics_public is false by default
    assert anonymous.get("/openapi.json").status_code == 200
    good = running.tokens["viewer"]
    for header in ("Bearer", "Basic dmlld2VyMTp4", f"Token {good}", "Bearer yw_", "Bearer yw_zz_zz",
                   f"Bearer {good[:-1]}", f"Bearer {good}x", "Bearer " + "A" * 5000, f"Bearer {good} {good}"):
        refused = httpx.get(f"{running.url}/api/areas", headers={"Authorization": header})
        assert refused.status_code == 401, (header[:40], refused.status_code)
    # what a well-behaved client library will not send, sent as raw bytes
    for raw in (b"Bearer \t", f"Bearer {good}\x00".encode(), "Bearer 令牌".encode(), b"Bearer \xff\xfe"):
        assert raw_status(running.url, b"Authorization: " + raw) in (400, 401), raw[:20]
    assert running.client(good).get("/api/areas").status_code == 200


def test_expired_and_revoked_tokens(running: Running) -> None:
    short = api_token(running.config, "viewer", name="short-lived", expires="2s")
    assert running.client(short).get("/api/areas").status_code == 200
    time.sleep(2.5)
    expired = running.client(short).get("/api/areas")
    assert expired.status_code == 401 and "expired" in expired.text

    admin = running.client(running.tokens["admin"])
    made = admin.post("/api/tokens", json={"name": "to-revoke", "roles": ["viewer"], "expires_days": 1})
    assert made.status_code == 201 and made.headers["cache-control"] == "no-store"
    token, token_id = made.json()["token"], made.json()["id"]
    assert running.client(token).get("/api/areas").status_code == 200  # now in the cache
    listed = admin.get("/api/tokens").json()
    assert token not in json.dumps(listed) and any(t["id"] == token_id for t in listed)
    assert admin.delete(f"/api/tokens/{token_id}").status_code == 200
    revoked = running.client(token).get("/api/areas")
    assert revoked.status_code == 401 and "revoked" in revoked.text  # at once, cache or not


def test_roles_are_enforced_and_refusals_audited(running: Running) -> None:
    viewer = running.client(running.tokens["viewer"])
    assert viewer.get("/api/alerts").status_code == 200
    refused = viewer.post("/api/silences", json={"area": "hb", "duration_s": 60, "comment": "viewer tries"})
    assert refused.status_code == 403 and "operate" in refused.text
    assert viewer.post("/api/configs/backup", json={}).status_code == 403
    assert viewer.get("/api/audit").status_code == 403
    assert viewer.get("/api/users").status_code == 403
    record = next(r for r in reversed(audit_records(running)) if r["action"] == "POST /api/silences")
    assert record["identity"] == "viewer-token" and record["outcome"].startswith("denied")
    assert record["status"] == 403 and record["roles"] == ["viewer"] and record["source"] == "127.0.0.1"

    # an administrator manages users and cannot read the trail; the auditor reads it and changes nothing
    admin = running.client(running.tokens["admin"])
    assert admin.get("/api/users").status_code == 200
    assert admin.get("/api/audit").status_code == 403
    assert admin.get("/api/audit/verify").status_code == 403
    assert admin.post("/api/silences", json={"area": "hb", "duration_s": 60}).status_code == 403
    both = admin.post("/api/users", json={"name": "sneaky", "roles": ["admin", "auditor"],
                                          "password": "Sneaky-Passw0rd!"})
    assert both.status_code == 422 and "separation of duties" in both.text
    auditor, _ = login(running, "auditor1")
    trail = auditor.get("/api/audit", params={"outcome": "denied", "limit": 500})
    assert trail.status_code == 200 and any(r["action"] == "GET /api/audit" and r["identity"] == "admin-token"
                                            for r in trail.json())
    assert auditor.get("/api/audit/verify").json()["ok"] is True
    assert auditor.post("/api/silences", json={"area": "hb", "duration_s": 60}).status_code == 403

    engineer = running.client(api_token(running.config, "engineer", name="engineer-token"))
    assert engineer.get("/api/configs/some-device/versions").status_code in (404, 409)  # allowed, nothing there
    assert viewer.get("/api/configs/some-device/versions").status_code == 403


def test_session_cookie_csrf_and_logout(running: Running) -> None:
    client, csrf = login(running, "operator1")
    answer = client.get("/api/auth/me")
    assert answer.json()["name"] == "operator1" and "operate" in answer.json()["permissions"]
    # a state-changing request with the cookie but no CSRF token: refused and audited
    forged = client.post("/api/silences", json={"area": "hb", "duration_s": 60, "comment": "csrf"})
    assert forged.status_code == 403 and "X-CSRF-Token" in forged.text
    wrong = client.post("/api/silences", json={"area": "hb", "duration_s": 60}, headers={"X-CSRF-Token": "x" * 43})
    assert wrong.status_code == 403
    made = client.post("/api/silences", json={"area": "hb", "duration_s": 60, "comment": "with csrf"},
                       headers={"X-CSRF-Token": csrf})
    assert made.status_code == 201 and made.json()["created_by"] == "operator1"
    assert client.post("/api/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 200
    assert client.get("/api/auth/me").status_code == 401
    csrf_record = next(r for r in reversed(audit_records(running)) if r["outcome"].startswith("denied: CSRF"))
    assert csrf_record["identity"] == "operator1" and csrf_record["identity_kind"] == "user"


def test_set_cookie_attributes(running: Running) -> None:
    answer = running.client().post("/api/auth/login", json={"name": "viewer1", "password": PASSWORDS["viewer1"]})
    set_cookie = answer.headers["set-cookie"].lower()
    assert "httponly" in set_cookie and "samesite=strict" in set_cookie and "path=/" in set_cookie
    assert "secure" not in set_cookie  # no TLS here; with api.tls it is Secure (tests/e2e/test_tls.py)


def test_a_job_started_by_a_person_is_theirs_in_the_trail(running: Running) -> None:
    starter, csrf = login(running, "operator1")
    started = starter.post("/api/configs/backup", json={"area": "hb.hg"}, headers={"X-CSRF-Token": csrf})
    if started.status_code == 409:
        pytest.fail(f"the archive is off in this run: {started.text}")
    assert started.status_code == 202 and started.headers["location"] == started.json()["url"]
    job_id = started.json()["job"]
    viewer = running.client(running.tokens["viewer"])
    assert viewer.post("/api/configs/backup", json={"area": "hb.hg"}).status_code == 403
    assert viewer.get(f"/api/jobs/{job_id}").json()["started_by"] == "operator1"
    steps = [r for r in audit_records(running) if r["target"].startswith(f"job={job_id}")]
    assert steps and steps[0]["action"] == "job.backup.started" and steps[0]["identity"] == "operator1"


def test_lockout_after_five_failures(running: Running) -> None:
    client = running.client()
    for _ in range(5):
        assert client.post("/api/auth/login", json={"name": "approver2", "password": "wrong-Passw0rd!"}
                           ).status_code == 401
    locked = client.post("/api/auth/login", json={"name": "approver2", "password": PASSWORDS["approver2"]})
    assert locked.status_code == 401
    viewer = running.client(running.tokens["viewer"])
    events = viewer.get("/api/security-events", params={"limit": 100}).json()
    kinds = [e["kind"] for e in events if "approver2" in e["device"]]
    assert kinds.count("login-failed") >= 5 and "account-locked" in kinds
    admin = running.client(running.tokens["admin"])
    assert admin.patch("/api/users/approver2", json={"locked": False}).status_code == 200
    login(running, "approver2")


def test_wrong_user_and_wrong_password_take_the_same_time(running: Running) -> None:
    """A login for a name that does not exist costs one Argon2 verification, as a wrong password does; a token
    whose id is unknown costs one too, as a wrong secret for a known id does."""
    client = running.client()

    def timed(body: dict[str, str] | None = None, token: str | None = None) -> float:
        start = time.perf_counter()
        if body is not None:
            answer = client.post("/api/auth/login", json=body)
        else:
            answer = client.get("/api/areas", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 401
        return time.perf_counter() - start

    known = running.tokens["viewer"]
    token_id = known.split("_")[1]
    pairs = []
    for i in range(12):  # interleaved, so load on the machine hits both alike
        pairs.append((timed({"name": "engineer1", "password": f"wrong-{i}-Passw0rd"}),
                      timed({"name": f"nobody-{i}", "password": f"wrong-{i}-Passw0rd"}),
                      timed(token=f"yw_{token_id}_{'A' * 43}"),
                      timed(token=f"yw_{'0' * len(token_id)}_{'A' * 43}")))
    wrong_password, wrong_user, wrong_secret, unknown_id = (statistics.median(p[i] for p in pairs) for i in range(4))
    assert 0.5 < wrong_user / wrong_password < 2.0, (wrong_user, wrong_password)
    assert 0.5 < unknown_id / wrong_secret < 2.0, (unknown_id, wrong_secret)


def test_secrets_never_come_back_out(running: Running) -> None:
    """Runs last in this module: every canary password and token, against everything the run wrote or answered."""
    admin = running.client(running.tokens["admin"])
    made = admin.post("/api/users", json={"name": "canary2", "roles": ["viewer"], "password": "Canary-Created-6b7c!s"})
    assert made.status_code == 201 and "Canary-Created" not in made.text
    assert admin.post("/api/users/canary2/password", json={"password": "Canary-Changed-1d2e!r"}).status_code == 200
    bad = admin.post("/api/users", json={"name": "canary3", "roles": ["viewer"], "password": "short"})
    assert bad.status_code == 422 and "short" not in bad.json()["detail"]
    time.sleep(1)  # the log is written by another process
    canaries = [*PASSWORDS.values(), "Canary-Created-6b7c!s", "Canary-Changed-1d2e!r", *running.tokens.values()]
    log = running.log.read_text(encoding="utf-8", errors="replace")
    assert " DEBUG " in log  # the run logs at debug: the strictest case
    trail = running.audit.read_text(encoding="utf-8")
    assert '"[redacted]"' in trail  # the login bodies were there, their passwords not
    answers = "\n".join(running.seen)
    for canary in canaries:
        assert canary not in log, canary
        assert canary not in trail, canary
    for name, password in PASSWORDS.items():
        assert password not in answers, name
    for token in running.tokens.values():
        secret = token.split("_", 2)[2]  # urlsafe base64: it may itself hold "_"
        assert secret not in trail and secret not in log
    verified = yiwang(running.config, "audit", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_every_record_reached_the_syslog_receiver(running: Running) -> None:
    records = audit_records(running)
    received = running.syslog.wait_for(len(records), timeout=20)
    assert len(received) >= len(records)
    by_hash = {m["sd"].split(' hash="')[1].split('"')[0]: m for m in received if ' hash="' in m["sd"]}
    for record in records:
        message = by_hash[record["hash"]]  # every record, as the receiver parsed it (RFC 5424)
        assert message["version"] == "1" and message["app"] == "yiwang"
    canaries = [*PASSWORDS.values(), *running.tokens.values()]
    raw = "\n".join(m["raw"] for m in received)
    assert not [c for c in canaries if c in raw]
