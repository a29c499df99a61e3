"""Argon2id hashing through argon2-cffi, and the password policy (等保 level 3)."""

from __future__ import annotations

from typing import Literal

import pytest
from argon2 import PasswordHasher, Type

from yiwang.auth.passwords import Passwords, generate_password, policy_problems


class CountingHasher(PasswordHasher):
    """Cheap parameters for tests, and a count of verifications actually run by Argon2."""

    def __init__(self, time_cost: int = 1) -> None:
        super().__init__(time_cost=time_cost, memory_cost=8, parallelism=1)
        self.verifications = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:  # noqa: A002 - the library's name
        self.verifications += 1
        return super().verify(hash, password)


def test_the_default_parameters_are_rfc_9106_low_memory_argon2id() -> None:
    hasher = Passwords().hasher
    assert (hasher.type, hasher.time_cost, hasher.memory_cost, hasher.parallelism) == (Type.ID, 3, 65536, 4)
    assert (hasher.salt_len, hasher.hash_len) == (16, 32)


def test_hash_and_verify() -> None:
    passwords = Passwords(CountingHasher())
    stored = passwords.hash("Correct-horse-9")
    assert stored.startswith("$argon2id$") and "Correct-horse-9" not in stored
    assert passwords.verify(stored, "Correct-horse-9")
    assert not passwords.verify(stored, "Correct-horse-8")
    assert passwords.hash("Correct-horse-9") != stored  # salted


def test_a_missing_hash_costs_one_real_verification_and_never_matches() -> None:
    hasher = CountingHasher()
    passwords = Passwords(hasher)
    assert not passwords.verify(None, "")
    assert not passwords.verify(None, "anything")
    assert hasher.verifications == 2
    assert passwords.dummy_hash() == passwords.dummy_hash()  # made once


@pytest.mark.parametrize("damaged", ["", "plain text", "$argon2id$v=19$m=8,t=1,p=1$xx$yy", "$2b$12$" + "a" * 53])
def test_a_damaged_hash_is_a_mismatch_not_a_crash(damaged: str) -> None:
    passwords = Passwords(CountingHasher())
    assert not passwords.verify(damaged, "Whatever-123")
    assert passwords.needs_rehash(damaged)


def test_needs_rehash_when_the_parameters_are_raised() -> None:
    old = Passwords(CountingHasher(time_cost=1)).hash("Correct-horse-9")
    assert not Passwords(CountingHasher(time_cost=1)).needs_rehash(old)
    assert Passwords(CountingHasher(time_cost=2)).needs_rehash(old)


@pytest.mark.parametrize(("password", "user", "problems"), [
    ("Abcdef-123", "li", []),
    ("abcdefgh12", "li", ["kinds"]),  # two kinds only
    ("abcdefgh1!", "li", []),  # lower, digit, other
    ("ABCDEFGH1a", "li", []),
    ("一网运维Abc123", "li", []),  # Chinese characters count as other characters
    ("Ab1-", "li", ["characters; at least 10"]),
    ("short", "li", ["characters; at least 10", "kinds"]),
    ("Zhangsan-2024", "zhangsan", ["user name"]),
    ("xxZHANGSANxx1", "zhangsan", ["user name"]),  # whatever the case
    ("Wang-lily-42", "wan", ["user name"]),
    ("Tiger-lily-42", "li", []),  # two-letter names are not looked for
    ("a" * 1025 + "B1", "li", ["at most 1024"]),
    ("", "li", ["characters; at least 10", "kinds"]),
])
def test_policy(password: str, user: str, problems: list[str]) -> None:
    found = policy_problems(password, user)
    assert len(found) == len(problems), found
    for problem, expected in zip(found, problems, strict=True):
        assert expected in problem
    assert all(password not in p for p in found if password)  # the messages never quote the password


def test_generated_passwords_pass_the_policy_and_differ() -> None:
    made = {generate_password("admin") for _ in range(200)}
    assert len(made) == 200
    assert all(not policy_problems(p, "admin") and len(p) == 20 for p in made)
