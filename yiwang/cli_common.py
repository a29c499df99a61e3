"""What every command group shares: the consoles, the --config option and the one way to fail."""

from __future__ import annotations

import getpass
import os
import socket
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from yiwang.config import ConfigError, Settings, load_settings

out = Console(soft_wrap=True)  # lines that scripts read must not be wrapped
err = Console(stderr=True)
ConfigOption = Annotated[Path | None, typer.Option("--config", "-c", envvar="YIWANG_CONFIG",
                                                    help="configuration file (default: the built-in settings)")]


def settings_from(config: Path | None) -> Settings:
    try:
        return load_settings(config)
    except ConfigError as exc:
        err.print(f"[red]configuration error[/red]\n{escape(str(exc))}")
        raise typer.Exit(2) from None


def fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[red]error:[/red] {escape(message)}")
    return typer.Exit(code)




def audit_local(settings: Settings, action: str, target: str, parameters: dict[str, Any], outcome: str) -> None:
    """One audit record for a command run on this host, by the OS user who ran it; copied to syslog when
    `audit.syslog` is set. A record that cannot be written is an error: the command must not pass unrecorded."""
    from sqlalchemy.exc import SQLAlchemyError

    from yiwang.audit import AuditEvent, SyslogForwarder
    from yiwang.audit.sql import open_trail
    from yiwang.schema import SchemaError

    try:
        user = getpass.getuser()
    except (OSError, KeyError):  # no login name and a uid without a passwd entry (containers)
        user = f"uid:{os.getuid()}"
    syslog = settings.audit.syslog
    forwarder = SyslogForwarder(syslog, close_timeout_s=2.0) if syslog else None
    try:
        trail = open_trail(settings, forwarder)
    except SchemaError as exc:
        raise fail(f"the audit record of {action} could not be written: {exc}") from None
    try:
        trail.append(AuditEvent(identity=user, identity_kind="os", roles=[], source=f"local:{socket.gethostname()}",
                                action=action, target=target, parameters=parameters, outcome=outcome))
    except (OSError, SQLAlchemyError) as exc:
        raise fail(f"the audit record of {action} could not be written to {trail.where}: "
                   f"{getattr(exc, 'strerror', None) or exc}") from None
    finally:
        trail.close()
