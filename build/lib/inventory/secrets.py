"""Resolve secret references at the edge, once; the values never enter logs, events or API responses."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from inventory.model import Credential, SecretRef


class SecretError(ValueError):
    pass


class Secret(str):
    """A str whose repr never shows the value, so a stray log line or traceback cannot leak it."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "Secret('***')"


def resolve(ref: SecretRef, environ: Mapping[str, str] | None = None, base: Path | None = None) -> Secret:
    env = os.environ if environ is None else environ
    if ref.env is not None:
        if ref.env not in env:
            raise SecretError(f"environment variable {ref.env} is not set")
        return Secret(env[ref.env])
    if ref.file is not None:
        path = Path(ref.file).expanduser()
        if not path.is_absolute() and base is not None:
            path = base / path
        try:
            return Secret(path.read_text(encoding="utf-8").strip())
        except OSError as exc:
            raise SecretError(f"secret file {path} cannot be read: {exc.strerror}") from None
    raise SecretError("empty secret reference")


def resolve_credential(credential: Credential, environ: Mapping[str, str] | None = None,
                       base: Path | None = None) -> dict[str, Secret]:
    values: dict[str, Secret] = {}
    for field, ref in credential.secrets.items():
        try:
            values[field] = resolve(ref, environ, base)
        except SecretError as exc:
            raise SecretError(f"credential {credential.name!r} field {field!r}: {exc}") from None
    return values
