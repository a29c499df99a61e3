"""Case folders: a lab device's configuration beside the VRRP lines and IPv6 configuration checks expected of it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from yiwang.compliance.data_rules import vrrp_lines
from yiwang.compliance.ipv6 import check_global, check_uplink_address

CASES = sorted(p for p in (Path(__file__).parent / "cases").iterdir() if p.is_dir())


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case(case: Path) -> None:
    config = (case / "config.txt").read_text()
    given = json.loads((case / "case.json").read_text())
    expected = json.loads((case / "expected.json").read_text())
    lines = config.splitlines()
    found = vrrp_lines(config, given["platform"])
    assert [e.line for e in found] == expected["vrrp_lines"]
    assert all(lines[e.line - 1].strip() == e.text for e in found if e.line is not None)
    statuses = {"global": check_global(given["platform"], config).status,
                "uplink-address": check_uplink_address(config, given["uplink_interface"]).status}
    assert statuses == expected["ipv6"]
