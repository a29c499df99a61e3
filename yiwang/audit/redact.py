"""Secrets out of audit parameters before anything is written or forwarded.

A key names a secret when it contains one of the unmistakable words (password, secret, credential, cookie, ...)
anywhere, or when its last word is `key`, `token` or `auth` (`api_key`, `priv_key`, `authKey`, `X-Auth-Token`):
matching `key` or `token` anywhere would also hide `keyboard` or the `token_id` an auditor needs to see which
token was revoked."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

REDACTED = "[redacted]"
_ANYWHERE = ("password", "passwd", "passphrase", "secret", "credential", "authorization", "cookie", "csrf",
             "community", "private", "authkey", "privkey", "apikey")
_LAST_WORD = frozenset({"key", "keys", "token", "tokens", "auth", "pwd", "psk"})
_WORD = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")


def is_secret_key(name: str) -> bool:
    lowered = name.lower()
    if any(word in lowered for word in _ANYWHERE):
        return True
    words = _WORD.findall(name)
    return bool(words) and words[-1].lower() in _LAST_WORD


def redact(parameters: Mapping[str, Any]) -> dict[str, Any]:
    """A copy with the value of every secret-named key, at any depth, replaced by "[redacted]".
    None stays None: that no password was given is worth recording, and reveals nothing."""
    return {key: _redact_value(key, value) for key, value in parameters.items()}


def _redact_value(key: object, value: Any) -> Any:
    if value is not None and isinstance(key, str) and is_secret_key(key):
        return REDACTED
    return _redact_nested(value)


def _redact_nested(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _redact_value(k, v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_redact_nested(item) for item in value]
    return value
