"""API tokens as text: `yw_<id>_<secret>`.

The id (12 random bytes, hex) is public: it names the token in lists, the audit trail and revocation, and finds its
row. The secret (32 random bytes, urlsafe base64 without padding) is shown once and kept only as an Argon2id hash.
The `yw_` prefix lets secret scanners and people recognise a yiwang token pasted where it should not be.
"""

from __future__ import annotations

import re
import secrets
from typing import NamedTuple

PREFIX = "yw_"
ID_BYTES = 12
SECRET_BYTES = 32
_ID_LENGTH = 2 * ID_BYTES
_SECRET_LENGTH = 43  # urlsafe base64 of 32 bytes, without its one "=" of padding
_LENGTH = len(PREFIX) + _ID_LENGTH + 1 + _SECRET_LENGTH
_FORMAT = re.compile(rf"yw_([0-9a-f]{{{_ID_LENGTH}}})_([A-Za-z0-9_-]{{{_SECRET_LENGTH}}})")


class ParsedToken(NamedTuple):
    id: str
    secret: str

    def __repr__(self) -> str:
        return f"ParsedToken(id={self.id!r}, secret='***')"


def new_token() -> tuple[str, ParsedToken]:
    """A fresh token: its text (shown once) and its parts."""
    parts = ParsedToken(secrets.token_hex(ID_BYTES), secrets.token_urlsafe(SECRET_BYTES))
    return f"{PREFIX}{parts.id}_{parts.secret}", parts


def parse_token(presented: str) -> ParsedToken | None:
    """The parts of a well-formed token; None for anything else (wrong length, prefix or alphabet)."""
    if not isinstance(presented, str) or len(presented) != _LENGTH:
        return None
    match = _FORMAT.fullmatch(presented)
    if match is None:
        return None
    return ParsedToken(match.group(1), match.group(2))
