"""Each case folder is a typed session (`input.txt`) and the device's full transcript (`expected.txt`).

While the pager waits, an input line is a key: `<SPACE>`, `<ENTER>`, or the key itself (`q`).

Regenerate after a deliberate change with: YIWANG_REGEN_CASES=1 pytest tests/lab_ssh/test_cli_cases.py
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lab.city import CityPlan
from lab.ssh.cli import CLOSED, handle, key, login
from tests.lab_ssh.conftest import NOW, first_device, fresh_memory

CASES = sorted(p for p in (Path(__file__).parent / "cases").iterdir() if p.is_dir())
KEYS = {"<SPACE>": " ", "<ENTER>": "\r"}


def transcript(plan: CityPlan, platform: str, lines: list[str]) -> str:
    device = first_device(plan, platform)
    state, text = login(device, fresh_memory(device), NOW)
    for line in lines:
        assert state.mode != CLOSED, "input continues after the session closed"
        if state.paused:
            state, out = key(state, KEYS.get(line, line))
        else:
            state, out = handle(state, line, NOW)
        text += out
    return text


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case(case: Path, small: CityPlan) -> None:
    platform = case.name.split("-", 1)[0]
    got = transcript(small, platform, case.joinpath("input.txt").read_text().splitlines())
    expected = case / "expected.txt"
    if os.environ.get("YIWANG_REGEN_CASES") or not expected.exists():
        expected.write_text(got)
    assert got == expected.read_text()
