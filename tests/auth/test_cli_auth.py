"""`yiwang auth ...` end to end: the real command line in a subprocess, against a configuration in a tmp folder."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from yiwang.auth.roles import Role
from yiwang.auth.service import AuthError, AuthService
from yiwang.config import AuthSettings
from yiwang.store import open_store

ROOT = Path(__file__).resolve().parents[2]
CANARY = "Canary-Cli-Pw-5k2"
TOKEN = re.compile(r"yw_[0-9a-f]{24}_[A-Za-z0-9_-]{43}")


class Yiwang:
    def __init__(self, tmp_path: Path) -> None:
        self.database = f"sqlite:///{tmp_path / 'yiwang.sqlite'}"
        self.config = tmp_path / "yiwang.yaml"
        self.config.write_text(yaml.safe_dump({"state_dir": str(tmp_path / "state"), "database_url": self.database}))
        self.outputs: list[str] = []

    def __call__(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, "-m", "yiwang", "auth", *args, "-c", str(self.config)], input=stdin,
            capture_output=True, text=True, timeout=120, cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200"})
        self.outputs += [done.stdout, done.stderr]
        return done

    def ok(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        done = self(*args, stdin=stdin)
        assert done.returncode == 0, done.stderr
        return done

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "--json").stdout)

    def service(self) -> AuthService:
        return AuthService(open_store(self.database).engine, AuthSettings())


@pytest.fixture
def yiwang(tmp_path: Path) -> Yiwang:
    return Yiwang(tmp_path)


def test_users_from_add_to_remove(yiwang: Yiwang, tmp_path: Path) -> None:
    password_file = tmp_path / "pw"
    password_file.write_text(CANARY + "\n")
    yiwang.ok("user", "add", "zhang", "--role", "operator", "--role", "approver", "--password-file", str(password_file))
    assert yiwang.service().login("zhang", CANARY, "cli-test").roles == {Role.OPERATOR, Role.APPROVER}

    listed = yiwang.json("user", "list")
    assert [(u["name"], u["source"], u["roles"], u["state"]) for u in listed] == [
        ("zhang", "local", ["approver", "operator"], "active")]

    yiwang.ok("user", "lock", "zhang")
    assert yiwang.json("user", "list")[0]["state"] == "locked"
    with pytest.raises(AuthError, match="locked"):
        yiwang.service().login("zhang", CANARY, "cli-test")
    yiwang.ok("user", "unlock", "zhang")
    yiwang.ok("user", "roles", "zhang", "--role", "engineer")
    assert yiwang.json("user", "list")[0]["roles"] == ["engineer"]

    new_password = tmp_path / "pw2"
    new_password.write_text("Second-pass-88")
    yiwang.ok("user", "passwd", "zhang", "--password-file", str(new_password))
    assert yiwang.service().login("zhang", "Second-pass-88", "cli-test").name == "zhang"

    table = yiwang.ok("user", "list").stdout
    assert "zhang" in table and "engineer" in table
    yiwang.ok("user", "remove", "zhang")
    assert yiwang.json("user", "list") == []
    assert all(CANARY not in text for text in yiwang.outputs)


def test_the_password_prompt_asks_twice(yiwang: Yiwang) -> None:
    done = yiwang.ok("user", "add", "wang", "--role", "viewer", stdin=f"{CANARY}\n{CANARY}\n")
    assert CANARY not in done.stdout + done.stderr
    assert yiwang.service().login("wang", CANARY, "cli-test").name == "wang"
    mismatch = yiwang("user", "add", "zhao", "--role", "viewer", stdin=f"{CANARY}\nOther-pass-99\n")
    assert mismatch.returncode != 0 and yiwang.json("user", "list")[0]["name"] == "wang"


@pytest.mark.parametrize(("args", "message"), [
    (["user", "add", "zhao", "--role", "admin", "--role", "auditor"], "separation of duties"),
    (["user", "add", "zhao", "--role", "root"], "no role 'root'"),
    (["user", "lock", "nobody"], "no user nobody"),
    (["user", "remove", "nobody"], "no user nobody"),
    (["token", "revoke", "0123456789abcdef01234567"], "no token"),
    (["token", "create", "ci", "--role", "viewer", "--expires", "soon"], "--expires"),
])
def test_refusals_are_one_line_on_stderr(yiwang: Yiwang, tmp_path: Path, args: list[str], message: str) -> None:
    password_file = tmp_path / "pw"
    password_file.write_text(CANARY)
    extra = ["--password-file", str(password_file)] if args[:2] == ["user", "add"] else []
    done = yiwang(*args, *extra)
    assert done.returncode in (1, 2) and message in " ".join(done.stderr.split()) and done.stdout == ""


def test_a_weak_password_is_refused_with_the_reasons(yiwang: Yiwang, tmp_path: Path) -> None:
    password_file = tmp_path / "pw"
    password_file.write_text("zhaozhao1\n")
    done = yiwang("user", "add", "zhao", "--role", "viewer", "--password-file", str(password_file))
    words = " ".join(done.stderr.split())
    assert done.returncode == 1 and "at least 10" in words and "user name" in words and "zhaozhao1" not in words


def test_token_create_prints_only_the_token(yiwang: Yiwang) -> None:
    created = yiwang.ok("token", "create", "prometheus", "--role", "viewer", "--expires", "30d")
    token = created.stdout.removesuffix("\n")
    assert TOKEN.fullmatch(token) and created.stdout == token + "\n"
    token_id = token.split("_")[1]
    assert token_id in created.stderr and token not in created.stderr

    service = yiwang.service()
    identity = service.verify_token(token, "cli-test")
    assert identity.name == "prometheus" and identity.token_id == token_id

    listed = yiwang.json("token", "list")
    assert [(t["id"], t["name"], t["roles"], t["state"]) for t in listed] == [
        (token_id, "prometheus", ["viewer"], "active")]
    assert listed[0]["created_by"].startswith("os:")
    table = yiwang.ok("token", "list")
    secret = token.split("_", 2)[2]
    assert token_id in table.stdout and secret not in table.stdout + table.stderr

    never = yiwang.ok("token", "create", "backup-job", "--role", "operator", "--expires", "never")
    assert TOKEN.fullmatch(never.stdout.strip())

    yiwang.ok("token", "revoke", token_id)
    with pytest.raises(AuthError, match="revoked"):
        yiwang.service().verify_token(token, "cli-test")
    assert yiwang.json("token", "list")[0]["state"] == "revoked"
    assert all(secret not in text for text in yiwang.outputs[2:])  # after the one stdout that showed it
