"""Secrets are replaced before anything is written or forwarded."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.audit.conftest import event
from yiwang.audit import REDACTED, AuditTrail, redact
from yiwang.audit.redact import is_secret_key
from yiwang.audit.syslog import format_rfc5424

CANARIES = ["canary-pw-7f3a", "canary-token-91c2", "canary-community-55d0", "canary-key-e18b", "canary-cookie-3b7f",
            "canary-csrf-0a9d", "canary-auth-6c44"]


@pytest.mark.parametrize("key", ["password", "Password", "new_password", "passwd", "db_passwd", "token",
                                 "api_token", "X-Auth-Token", "secret", "client_secret", "key", "api_key",
                                 "apiKey", "AUTHKEY", "auth_key", "priv_key", "privKey", "community",
                                 "snmp_community", "credential", "credentials", "Authorization", "cookie",
                                 "Set-Cookie", "csrf", "X-CSRF-Token", "private_key", "passphrase"])
def test_secret_names(key: str) -> None:
    assert is_secret_key(key)


@pytest.mark.parametrize("key", ["token_id", "key_id", "keyboard", "monkey", "comment", "device", "area", "by",
                                 "roles", "expires", "name", "author"])
def test_names_that_are_not_secrets(key: str) -> None:
    assert not is_secret_key(key)


def test_nested_dicts_and_lists() -> None:
    parameters = {
        "name": "bob", "password": "canary-pw-7f3a", "token_id": 42, "roles": ["operator"],
        "devices": [{"host": "r1", "snmp": {"community": "canary-community-55d0", "priv_key": ["a", "b"]}},
                    {"host": "r2", "credentials": {"user": "u", "pass": "x"}}],
        "headers": {"Cookie": "canary-cookie-3b7f", "Accept": "text/html"},
        "previous_password": None,
    }
    assert redact(parameters) == {
        "name": "bob", "password": REDACTED, "token_id": 42, "roles": ["operator"],
        "devices": [{"host": "r1", "snmp": {"community": REDACTED, "priv_key": REDACTED}},
                    {"host": "r2", "credentials": REDACTED}],
        "headers": {"Cookie": REDACTED, "Accept": "text/html"},
        "previous_password": None,
    }
    assert parameters["password"] == "canary-pw-7f3a"  # the caller's dict is left as it was
    # under a key that names a secret the whole value goes, whatever it holds ("pass" alone is not caught)
    assert redact({"auth": {"user": "u", "pass": "x"}}) == {"auth": REDACTED}


def test_canaries_never_reach_the_file_nor_the_syslog_message(tmp_path: Path) -> None:
    parameters = {"password": CANARIES[0], "token": CANARIES[1], "snmp": {"community": CANARIES[2]},
                  "devices": [{"api_key": CANARIES[3]}],
                  "headers": [{"cookie": CANARIES[4]}, {"X-CSRF-Token": CANARIES[5]}],
                  "Authorization": f"Bearer {CANARIES[6]}"}
    trail = AuditTrail(tmp_path / "audit.jsonl")
    record = trail.append(event(1, parameters=parameters))
    message = format_rfc5424(record, facility=13, app_name="yiwang", hostname="h", procid="1")
    stored = trail.path.read_bytes()
    for canary in CANARIES:
        assert canary.encode() not in stored
        assert canary.encode() not in message
        assert canary not in repr(record)
    assert trail.verify().ok
