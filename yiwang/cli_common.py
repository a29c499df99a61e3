"""What every command group shares: the consoles, the --config option and the one way to fail."""

from __future__ import annotations

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
    """Wired to the audit trail at merge."""
