"""A directory that authenticates people and tells their roles (LDAP, Active Directory): one Protocol, one verb."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from yiwang.auth.roles import Role


class DirectoryUnavailable(RuntimeError):
    """The directory could not be asked (down, unreachable, TLS refused, service account refused)."""


@dataclass(frozen=True, slots=True)
class DirectoryUser:
    name: str
    dn: str
    groups: tuple[str, ...]
    roles: frozenset[Role]


class Directory(Protocol):
    def authenticate(self, username: str, password: str) -> DirectoryUser | None:
        """The user when the password is right, None when it is not or there is no such user (blocking)."""
        ...
