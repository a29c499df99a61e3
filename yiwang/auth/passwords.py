"""Password hashing (Argon2id, argon2-cffi) and the password policy.

The parameters are argon2-cffi's defaults, RFC 9106's second recommended ("low-memory") set: Argon2id, 3 passes
over 64 MiB, 4 lanes, 16-byte salt, 32-byte hash. The parameters travel inside each hash, so raising them later
only makes `needs_rehash` true for the old hashes, which the service then replaces at the next good login.
"""

from __future__ import annotations

import secrets
import string
import threading

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 10
MIN_CLASSES = 3
# shorter names are not looked for (as Windows does): "li" would forbid "lily", "reliable", ...
MIN_NAME_IN_PASSWORD = 3
MAX_LENGTH = 1024  # Argon2 takes any length; a bound stops a megabyte "password" from costing memory and time

_CLASSES = (
    ("lower-case letters", frozenset(string.ascii_lowercase)),
    ("upper-case letters", frozenset(string.ascii_uppercase)),
    ("digits", frozenset(string.digits)),
)


class Passwords:
    """Hashes and verifies secrets (passwords and the secret part of tokens) with one set of Argon2 parameters.

    `verify(None, ...)` checks against a dummy hash made with the same parameters, so that an unknown user or
    token costs as much as a known one with a wrong secret."""

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self.hasher = hasher or PasswordHasher()
        self._dummy: str | None = None
        self._dummy_lock = threading.Lock()

    def hash(self, secret: str) -> str:
        return self.hasher.hash(secret)

    def verify(self, stored: str | None, secret: str) -> bool:
        """True when `secret` matches `stored`; a missing or damaged hash is a mismatch, at the same cost."""
        if stored is None:
            stored = self.dummy_hash()
            secret = ""  # the dummy's secret is random and thrown away: nothing matches it
        try:
            return self.hasher.verify(stored, secret)
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored: str) -> bool:
        try:
            return self.hasher.check_needs_rehash(stored)
        except InvalidHashError:
            return True

    def dummy_hash(self) -> str:
        # made on first use: a command that never verifies anything does not pay for it
        with self._dummy_lock:
            if self._dummy is None:
                self._dummy = self.hasher.hash(secrets.token_urlsafe(32))
            return self._dummy


def policy_problems(password: str, user: str) -> list[str]:
    """What keeps `password` from being acceptable for `user` (empty: acceptable).

    等保 2.0 level 3 (8.1.4.1 a) asks for passwords of a complexity that resists guessing: at least 10 characters,
    of at least three of the four kinds (lower case, upper case, digits, other characters), not containing the user
    name (when it has 3 characters or more)."""
    problems = []
    if len(password) < MIN_LENGTH:
        problems.append(f"it has {len(password)} characters; at least {MIN_LENGTH} are needed")
    if len(password) > MAX_LENGTH:
        problems.append(f"it has {len(password)} characters; at most {MAX_LENGTH} are accepted")
    kinds = [name for name, chars in _CLASSES if any(c in chars for c in password)]
    if any(not c.isascii() or not c.isalnum() for c in password):
        kinds.append("other characters")
    if len(kinds) < MIN_CLASSES:
        problems.append(f"it mixes {len(kinds)} kinds of characters; at least {MIN_CLASSES} of lower-case letters, "
                        "upper-case letters, digits and other characters are needed")
    if len(user) >= MIN_NAME_IN_PASSWORD and user.casefold() in password.casefold():
        problems.append("it contains the user name")
    return problems


def generate_password(user: str) -> str:
    """A random password (20 urlsafe characters, 120 bits) that passes the policy for `user`."""
    while True:
        candidate = secrets.token_urlsafe(15)
        if not policy_problems(candidate, user):
            return candidate
