"""The role table as the issue states it, and the pairs one person may not hold."""

from __future__ import annotations

import pytest

from yiwang.auth.roles import ROLE_PERMISSIONS, Identity, Permission, Role, RoleError, parse_roles

P = Permission
EXPECTED = {
    Role.VIEWER: {P.READ},
    Role.OPERATOR: {P.READ, P.OPERATE},
    Role.ENGINEER: {P.READ, P.OPERATE, P.CONFIGS_READ, P.CHANGE_PLAN, P.CHANGE_START},
    Role.APPROVER: {P.READ, P.CHANGE_APPROVE},
    Role.AUDITOR: {P.READ, P.AUDIT_READ},
    Role.ADMIN: {P.READ, P.USERS_MANAGE},
}


@pytest.mark.parametrize("role", list(Role))
def test_each_role_grants_what_the_issue_says(role: Role) -> None:
    assert ROLE_PERMISSIONS[role] == EXPECTED[role]


def test_separation_of_duties_in_the_table() -> None:
    assert not Identity("a", frozenset({Role.ADMIN}), "user").can(P.AUDIT_READ)
    auditor = Identity("b", frozenset({Role.AUDITOR}), "user")
    assert auditor.can(P.AUDIT_READ)
    assert not any(auditor.can(p) for p in (P.OPERATE, P.USERS_MANAGE, P.CHANGE_START, P.CHANGE_APPROVE))
    assert not Identity("c", frozenset({Role.VIEWER}), "token").can(P.CONFIGS_READ)  # configurations hold secrets


@pytest.mark.parametrize("names", [["admin", "auditor"], ["auditor", "operator", "admin"], ["ADMIN", " auditor "]])
def test_admin_and_auditor_together_are_refused(names: list[str]) -> None:
    with pytest.raises(RoleError, match="separation of duties"):
        parse_roles(names)


@pytest.mark.parametrize(("names", "message"), [([], "at least one"), (["root"], "no role 'root'"),
                                                (["viewer", ""], "no role ''")])
def test_unknown_or_no_roles_are_refused(names: list[str], message: str) -> None:
    with pytest.raises(RoleError, match=message):
        parse_roles(names)


def test_several_roles_combine() -> None:
    roles = parse_roles(["Operator", "approver"])
    identity = Identity("li", roles, "ldap")
    assert identity.role_names == ["approver", "operator"]
    assert identity.granted == {P.READ, P.OPERATE, P.CHANGE_APPROVE}
