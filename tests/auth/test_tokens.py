"""The token format `yw_<id>_<secret>`: made from `secrets`, parsed strictly, hostile input refused."""

from __future__ import annotations

import re

import pytest

from yiwang.auth.tokens import ParsedToken, new_token, parse_token


def test_a_new_token_parses_back_to_its_parts() -> None:
    text, parts = new_token()
    assert re.fullmatch(r"yw_[0-9a-f]{24}_[A-Za-z0-9_-]{43}", text)
    assert parse_token(text) == parts
    assert text == f"yw_{parts.id}_{parts.secret}"


def test_tokens_do_not_repeat() -> None:
    made = [new_token() for _ in range(2000)]
    assert len({t for t, _ in made}) == len({p.id for _, p in made}) == 2000


def test_the_secret_stays_out_of_repr_and_str() -> None:
    text, parts = new_token()
    assert parts.secret not in repr(parts) and parts.secret not in str(parts) and parts.id in repr(parts)
    assert parts.secret not in f"{parts}"


def _valid() -> str:
    return new_token()[0]


GOOD_ID = "0123456789abcdef01234567"
GOOD_SECRET = "A" * 43


@pytest.mark.parametrize("presented", [
    "", "yw_", "yw__", "Bearer yw_", "token",
    f"yw_{GOOD_ID}_{GOOD_SECRET}=",  # padding
    f"yw_{GOOD_ID}_{GOOD_SECRET[:-1]}",  # one short
    f"yw_{GOOD_ID}_{GOOD_SECRET}A",  # one long
    f"YW_{GOOD_ID}_{GOOD_SECRET}",
    f"xx_{GOOD_ID}_{GOOD_SECRET}",
    f"yw_{GOOD_ID.upper()}_{GOOD_SECRET}",
    f"yw_{GOOD_ID[:-1]}g_{GOOD_SECRET}",
    f"yw_{GOOD_ID}-{GOOD_SECRET}",
    f"yw_{GOOD_ID}_{'A' * 42}+",  # standard base64, not urlsafe
    f"yw_{GOOD_ID}_{'A' * 42}/",
    f"yw_{GOOD_ID}_{'A' * 42}\n",
    f"yw_{GOOD_ID}_{'A' * 42}\x00",
    f" yw_{GOOD_ID}_{'A' * 42}",
    f"yw_{GOOD_ID}_{'A' * 42}\u0410",  # Cyrillic A
    f"yw_{'٠' * 24}_{GOOD_SECRET}",  # Arabic-Indic digits match \d, not [0-9]
    f"yw_{GOOD_ID}_{'Ａ' * 43}",  # fullwidth letters
    "yw_" + "a" * 10_000_000,
    "\ud800" * 71,  # a lone surrogate, as a broken client might send
    "'; DROP TABLE api_tokens; --" + "x" * 42,
])
def test_malformed_tokens_are_none(presented: str) -> None:
    assert parse_token(presented) is None


@pytest.mark.parametrize("presented", [None, b"yw_", 42, ["yw_"]])
def test_things_that_are_not_text_are_none(presented: object) -> None:
    assert parse_token(presented) is None  # type: ignore[arg-type]


def test_a_well_formed_token_parses_even_when_nobody_issued_it() -> None:
    assert parse_token(f"yw_{GOOD_ID}_{GOOD_SECRET}") == ParsedToken(GOOD_ID, GOOD_SECRET)
    assert parse_token(f"yw_{GOOD_ID}_{'_-' * 21}a") == ParsedToken(GOOD_ID, "_-" * 21 + "a")
