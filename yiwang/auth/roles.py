"""Roles and what each may do: the one table every endpoint and command is checked against.

等保 2.0 level 3 (GB/T 22239-2019 8.1.4.2, 8.1.5.1-8.1.5.3) asks for least privilege and for the system
administrator, the auditor and the security administrator to be separate people: `admin` manages accounts and
cannot read the audit trail, `auditor` reads it and changes nothing, and nobody holds both.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal


class Role(StrEnum):
    VIEWER = "viewer"
    OPERATOR = "operator"
    ENGINEER = "engineer"
    APPROVER = "approver"
    AUDITOR = "auditor"
    ADMIN = "admin"


class Permission(StrEnum):
    READ = "read"  # status, metrics, alerts, configurations' status (never their content)
    OPERATE = "operate"  # ack, silence, maintenance, backup now, run checks
    CONFIGS_READ = "configs.read"  # configurations and their diffs: they hold secrets
    CHANGE_PLAN = "change.plan"
    CHANGE_START = "change.start"
    CHANGE_APPROVE = "change.approve"
    AUDIT_READ = "audit.read"
    USERS_MANAGE = "users.manage"


_VIEWER = frozenset({Permission.READ})
_OPERATOR = _VIEWER | {Permission.OPERATE}
ROLE_PERMISSIONS: Mapping[Role, frozenset[Permission]] = {
    Role.VIEWER: _VIEWER,
    Role.OPERATOR: _OPERATOR,
    Role.ENGINEER: _OPERATOR | {Permission.CONFIGS_READ, Permission.CHANGE_PLAN, Permission.CHANGE_START},
    # an approver sees what they release; the auditor and the admin see status, which holds no secret
    Role.APPROVER: _VIEWER | {Permission.CHANGE_APPROVE},
    Role.AUDITOR: _VIEWER | {Permission.AUDIT_READ},
    Role.ADMIN: _VIEWER | {Permission.USERS_MANAGE},
}

# Roles one person may not hold together (separation of duties).
EXCLUSIVE: tuple[frozenset[Role], ...] = (frozenset({Role.ADMIN, Role.AUDITOR}),)


class RoleError(ValueError):
    pass


def parse_roles(names: Iterable[str]) -> frozenset[Role]:
    """The roles named, checked: at least one, all known, no forbidden pair."""
    roles: set[Role] = set()
    for name in names:
        try:
            roles.add(Role(name.strip().lower()))
        except ValueError:
            raise RoleError(f"no role {name!r}; roles are {', '.join(r.value for r in Role)}") from None
    if not roles:
        raise RoleError("give at least one role")
    for pair in EXCLUSIVE:
        if pair <= roles:
            raise RoleError(f"one person may not hold {' and '.join(sorted(pair))} together (separation of duties)")
    return frozenset(roles)


def permissions(roles: Iterable[Role]) -> frozenset[Permission]:
    granted: set[Permission] = set()
    for role in roles:
        granted |= ROLE_PERMISSIONS[role]
    return frozenset(granted)


IdentityKind = Literal["user", "ldap", "token", "os", "anonymous"]


@dataclass(frozen=True, slots=True)
class Identity:
    """Who is acting: a person (local or from the directory), a token, or the OS user behind a local command."""

    name: str
    roles: frozenset[Role]
    kind: IdentityKind
    token_id: str | None = None
    granted: frozenset[Permission] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "granted", permissions(self.roles))

    def can(self, permission: Permission) -> bool:
        return permission in self.granted

    @property
    def role_names(self) -> list[str]:
        return sorted(r.value for r in self.roles)
