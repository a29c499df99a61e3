"""Recorded datagrams and their expected decoding, one folder per case (see cases/README.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from collectors.snmp import ber

CASES = sorted(p for p in (Path(__file__).parent / "cases").iterdir() if p.is_dir())


def _as_json(tag: int, value: ber.Value) -> Any:
    if isinstance(value, ber.BadValue):
        return {"bad": value.reason}
    return {"hex": value.hex()} if isinstance(value, bytes) else value


def _type_name(tag: int) -> str:
    return ber.TAG_NAMES.get(tag, f"0x{tag:02x}")


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case(case: Path) -> None:
    data = bytes.fromhex("".join((case / "response.hex").read_text().split()))
    expected = json.loads((case / "expected.json").read_text())
    if "error" in expected:
        with pytest.raises(ber.BerError) as caught:
            ber.decode_response(data)
        assert expected["error"] in str(caught.value)
        return
    pdu = next(tag for tag, name in ber.TAG_NAMES.items() if name == expected["pdu"])
    got = ber.decode_message(data, expected.get("version", ber.VERSION_2C), (pdu,))
    assert got.community.decode("latin-1") == expected["community"]
    assert got.pdu_type == pdu and got.request_id == expected["request_id"]
    if "error_status" in expected:  # the request cases' sources state no error fields
        assert (got.error_status, got.error_index) == (expected["error_status"], expected["error_index"])
    varbinds = [[ber.oid_to_str(oid), _type_name(tag), _as_json(tag, v)] for oid, tag, v in got.varbinds]
    assert len(varbinds) == len(expected["varbinds"])
    assert [_rounded(v, w) for v, w in zip(varbinds, expected["varbinds"], strict=True)] == expected["varbinds"]


def _rounded(got: list[Any], want: list[Any]) -> list[Any]:
    """A float printed by net-snmp to 6 decimals (`{"float": x}`) matches the decoded float within rounding."""
    value, printed = got[2], want[2]
    if isinstance(printed, dict) and "float" in printed and isinstance(value, float):
        if abs(value - printed["float"]) <= 5e-7:
            return [got[0], got[1], printed]
    return got


def test_there_are_good_and_bad_cases() -> None:
    kinds = {"error" in json.loads((c / "expected.json").read_text()) for c in CASES}
    assert kinds == {True, False}
