"""`yiwang auth user ...` and `yiwang auth token ...`: local users and API tokens, managed on the server itself.

Whoever can run these can read the database, so they need no login; every change is written to the audit trail
with the OS user as the identity. `token create` prints the token alone on stdout (for `$(...)` and pipes) and
everything else on stderr.
"""

from __future__ import annotations

import getpass
import json
import os
import re
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from yiwang.cli_common import ConfigOption, audit_local, err, fail, out, settings_from
from yiwang.config import Settings

if TYPE_CHECKING:  # the service (SQLAlchemy, Argon2) is imported when a command runs, not when any command starts
    from yiwang.auth.service import AuthService, TokenRecord, UserRecord

app = typer.Typer(help="Users and API tokens.", no_args_is_help=True)
user_app = typer.Typer(help="Local users: add, list, lock, unlock, remove, roles, password.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens: create (shown once), list, revoke.", no_args_is_help=True)
app.add_typer(user_app, name="user")
app.add_typer(token_app, name="token")

RolesOption = Annotated[list[str], typer.Option("--role", "-r", help="a role; repeat for several "
                                                "(viewer, operator, engineer, approver, auditor, admin)")]
PasswordFileOption = Annotated[Path | None, typer.Option(
    "--password-file", help="read the password from this file (its first line; - for stdin) instead of a prompt")]
JsonOption = Annotated[bool, typer.Option("--json", help="machine-readable output")]


def _open(config: Path | None) -> tuple[Settings, AuthService]:
    from yiwang.auth.service import AuthService
    from yiwang.store import SchemaError, open_store

    settings = settings_from(config)
    try:
        store = open_store(settings.database)
    except SchemaError as exc:
        raise fail(str(exc)) from None
    return settings, AuthService(store.engine, settings.auth)


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return f"uid {os.getuid()}"


def _change(settings: Settings, action: str, target: str, parameters: dict[str, Any], change: Any) -> Any:
    """Runs one change and writes its audit record, whether it was done or refused."""
    from yiwang.auth.roles import RoleError
    from yiwang.auth.service import AuthError, UserError

    try:
        result = change()
    except (UserError, RoleError, AuthError) as exc:
        audit_local(settings, action, target, {**parameters, "refused": str(exc)}, "refused")
        raise fail(str(exc)) from None
    audit_local(settings, action, target, parameters, "ok")
    return result


def _password(file: Path | None) -> str:
    if file is None:
        return str(typer.prompt("password", hide_input=True, confirmation_prompt=True, err=True))
    try:
        text = sys.stdin.read() if str(file) == "-" else file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise fail(f"cannot read the password file {file}: {type(exc).__name__}", 2) from None
    lines = text.splitlines()
    if not lines or not lines[0]:
        raise fail(f"the password file {file} is empty", 2)
    return lines[0]


def _when(moment: datetime | None) -> str:
    return "—" if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%d %H:%MZ")


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


@user_app.command("add")
def user_add(name: str, role: RolesOption, password_file: PasswordFileOption = None,
             config: ConfigOption = None) -> None:
    """Add a local user (the password from --password-file, else asked twice)."""
    settings, service = _open(config)
    password = _password(password_file)
    record = _change(settings, "auth.user.add", name, {"roles": sorted(role)},
                     lambda: service.add_user(name, role, password))
    err.print(f"added {escape(record.name)} ({', '.join(record.role_names)})")


@user_app.command("list")
def user_list(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Users, local and from the directory (those who logged in once)."""
    _, service = _open(config)
    records = service.users()
    now = datetime.now(UTC)
    if as_json:
        sys.stdout.write(json.dumps([_user_json(r, now) for r in records], indent=2) + "\n")
        return
    table = Table("name", "source", "roles", "state", "last login", "password changed")
    for r in records:
        table.add_row(escape(r.name), r.source, ", ".join(r.role_names), _user_state(r, now), _when(r.last_login_at),
                      _when(r.password_changed_at))
    out.print(table)


def _user_state(record: UserRecord, now: datetime) -> str:
    if record.locked:
        return "locked"
    if record.locked_until is not None and record.locked_until > now:
        return f"locked until {_when(record.locked_until)}"
    if record.source == "local" and not record.has_password:
        return "no password"
    return "active"


def _user_json(record: UserRecord, now: datetime) -> dict[str, Any]:
    return {"name": record.name, "source": record.source, "roles": record.role_names,
            "state": _user_state(record, now), "failed_logins": record.failed_logins,
            "last_login_at": _iso(record.last_login_at), "password_changed_at": _iso(record.password_changed_at),
            "created_at": _iso(record.created_at)}


@user_app.command("lock")
def user_lock(name: str, config: ConfigOption = None) -> None:
    """Lock an account until it is unlocked."""
    settings, service = _open(config)
    _change(settings, "auth.user.lock", name, {}, lambda: service.lock(name))
    err.print(f"locked {escape(name)}")


@user_app.command("unlock")
def user_unlock(name: str, config: ConfigOption = None) -> None:
    """Unlock an account (locked by an admin or after failed logins)."""
    settings, service = _open(config)
    _change(settings, "auth.user.unlock", name, {}, lambda: service.unlock(name))
    err.print(f"unlocked {escape(name)}")


@user_app.command("remove")
def user_remove(name: str, config: ConfigOption = None) -> None:
    """Remove a user."""
    settings, service = _open(config)
    _change(settings, "auth.user.remove", name, {}, lambda: service.remove(name))
    err.print(f"removed {escape(name)}")


@user_app.command("roles")
def user_roles(name: str, role: RolesOption, config: ConfigOption = None) -> None:
    """Give a local user these roles (replacing the ones they had)."""
    settings, service = _open(config)
    record = _change(settings, "auth.user.roles", name, {"roles": sorted(role)},
                     lambda: service.set_roles(name, role))
    err.print(f"{escape(record.name)}: {', '.join(record.role_names)}")


@user_app.command("passwd")
def user_passwd(name: str, password_file: PasswordFileOption = None, config: ConfigOption = None) -> None:
    """Set a local user's password."""
    settings, service = _open(config)
    password = _password(password_file)
    _change(settings, "auth.user.passwd", name, {}, lambda: service.set_password(name, password))
    err.print(f"password of {escape(name)} changed")


def _expiry(text: str) -> float | None:
    from alerts.rules import seconds

    if text.strip().lower() == "never":
        return None
    try:
        return seconds(text)
    except ValueError as exc:
        raise fail(f"--expires: {exc}, or 'never'", 2) from None


@token_app.command("create")
def token_create(name: str, role: RolesOption,
                 expires: Annotated[str, typer.Option(help="lifetime, e.g. 30d, 12h, or 'never'")] = "90d",
                 config: ConfigOption = None) -> None:
    """Create a token; it is printed once, alone on stdout, and cannot be shown again."""
    from yiwang.auth.roles import RoleError
    from yiwang.auth.service import UserError

    settings, service = _open(config)
    expires_s = _expiry(expires)
    parameters: dict[str, Any] = {"roles": sorted(role), "expires": expires}
    try:
        text, record = service.create_token(name, role, expires_s, f"os:{_os_user()}")
    except (UserError, RoleError) as exc:
        audit_local(settings, "auth.token.create", name, {**parameters, "refused": str(exc)}, "refused")
        raise fail(str(exc)) from None
    audit_local(settings, "auth.token.create", name, {**parameters, "token_id": record.id}, "ok")
    sys.stdout.write(text + "\n")
    sys.stdout.flush()
    err.print(f"token {record.id} ({escape(record.name)}: {', '.join(record.role_names)}), expires "
              f"{_when(record.expires_at) if record.expires_at else 'never'}. It is shown this once: store it now.")


@token_app.command("list")
def token_list(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Tokens (never their secrets); --json adds who made them and when."""
    _, service = _open(config)
    records = service.tokens()
    now = datetime.now(UTC)
    if as_json:
        sys.stdout.write(json.dumps([_token_json(r, now) for r in records], indent=2) + "\n")
        return
    table = Table()
    table.add_column("id", no_wrap=True, min_width=24)  # copied into `token revoke`: never cut
    for column in ("name", "roles", "state", "expires", "last used"):
        table.add_column(column)
    for r in records:
        table.add_row(r.id, escape(r.name), ", ".join(r.role_names), _token_state(r, now), _when(r.expires_at),
                      _when(r.last_used_at))
    out.print(table)


def _token_state(record: TokenRecord, now: datetime) -> str:
    if record.revoked_at is not None:
        return "revoked"
    if record.expires_at is not None and record.expires_at <= now:
        return "expired"
    return "active"


def _token_json(record: TokenRecord, now: datetime) -> dict[str, Any]:
    return {"id": record.id, "name": record.name, "roles": record.role_names, "state": _token_state(record, now),
            "created_by": record.created_by, "created_at": _iso(record.created_at),
            "expires_at": _iso(record.expires_at), "last_used_at": _iso(record.last_used_at),
            "revoked_at": _iso(record.revoked_at)}


@token_app.command("revoke")
def token_revoke(token_id: str, config: ConfigOption = None) -> None:
    """Revoke a token (by its id, as `token list` shows it)."""
    from yiwang.auth.tokens import parse_token

    settings, service = _open(config)
    parsed = parse_token(token_id)  # a whole token pasted by mistake: its secret stays out of the trail
    target = parsed.id if parsed else token_id if re.fullmatch(r"[0-9a-f]{24}", token_id) else "(not a token id)"
    record = _change(settings, "auth.token.revoke", target, {}, lambda: service.revoke_token(token_id))
    err.print(f"revoked {record.id} ({escape(record.name)})")
