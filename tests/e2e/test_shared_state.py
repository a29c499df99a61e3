"""A second core over the same PostgreSQL takes over: a person signed in on the first stays signed in (the session
is in the database, keyed by a hash of the cookie), and both cores' audit records form one verified chain there."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import sqlalchemy as sa

from lab import lab_inventory_dir
from tests.e2e.conftest import free_tcp_port, start_run, stop_run, wait_for_api, write_config
from tests.store.postgres import Cluster
from yiwang.schema import api_sessions, audit_records


def yiwang(config: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "yiwang", *args, "-c", str(config)], capture_output=True, text=True,
                          input=stdin, timeout=60)


def test_a_standby_core_keeps_sessions_and_the_audit_chain(lab_state: Path, postgres: Cluster,
                                                           tmp_path: Path) -> None:
    url = postgres.new_database()
    configs = []
    for core in ("a", "b"):  # each core its own state folder (its machine); only the database is shared
        port = free_tcp_port()
        configs.append((write_config(tmp_path / f"{core}.yaml", tmp_path / core,
                                     inventory=[str(lab_inventory_dir(lab_state))], database_url=url,
                                     api={"port": port}, ssh={"enabled": False}), port))
    secret = tmp_path / "password"
    secret.write_text("Shared-State-1!\n")
    added = yiwang(configs[0][0], "auth", "user", "add", "ops1", "--password-file", str(secret), "--role", "operator")
    assert added.returncode == 0, added.stderr

    (config_a, port_a), (config_b, port_b) = configs
    run_a = start_run(config_a, tmp_path / "a.log")
    try:
        wait_for_api(f"http://127.0.0.1:{port_a}", run_a, tmp_path / "a.log")
        with httpx.Client(base_url=f"http://127.0.0.1:{port_a}") as client:
            answer = client.post("/api/auth/login", json={"name": "ops1", "password": "Shared-State-1!"})
            assert answer.status_code == 200, answer.text
            cookies, csrf = dict(client.cookies), answer.json()["csrf_token"]
    finally:
        assert stop_run(run_a) == 0

    run_b = start_run(config_b, tmp_path / "b.log")
    try:
        wait_for_api(f"http://127.0.0.1:{port_b}", run_b, tmp_path / "b.log")
        with httpx.Client(base_url=f"http://127.0.0.1:{port_b}", cookies=cookies) as client:
            assert client.get("/api/areas").status_code == 200  # still signed in on the core that took over
            assert client.post("/api/auth/logout", headers={"X-CSRF-Token": csrf}).status_code in (200, 204)
            assert client.get("/api/areas").status_code == 401
    finally:
        assert stop_run(run_b) == 0

    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(api_sessions)).scalar_one() == 0
            actions = [a for (a,) in conn.execute(sa.select(audit_records.c.action).order_by(audit_records.c.seq))]
    finally:
        engine.dispose()
    assert actions[0] == "auth.user.add", actions  # the command line's record, before either core ran
    assert "POST /api/auth/login" in actions and "POST /api/auth/logout" in actions, actions
    verified = yiwang(config_b, "audit", "verify")
    assert verified.returncode == 0 and f"chain intact: {len(actions)} records" in verified.stdout, verified.stderr
    assert not (tmp_path / "a" / "audit").exists() and not (tmp_path / "b" / "audit").exists()
