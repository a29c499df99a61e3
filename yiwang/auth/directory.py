"""A directory that authenticates people and tells their roles (LDAP, Active Directory): the one extension point the
auth service needs from it. `yiwang.auth.ldap` implements it over ldap3."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from yiwang.auth.roles import Role


class DirectoryUnavailable(RuntimeError):
    """The directory cannot be reached or refused the service's own bind: nobody's password was judged."""


@dataclass(frozen=True, slots=True)
class DirectoryUser:
    name: str
    dn: str
    groups: tuple[str, ...]
    roles: frozenset[Role]  # from the groups, through the configured mapping; may be empty


class Directory(Protocol):
    def authenticate(self, username: str, password: str) -> DirectoryUser | None:
        """The person when the password is theirs, None when it is not or nobody has that name (blocking).

        Raises DirectoryUnavailable when the server cannot be reached."""
        ...
