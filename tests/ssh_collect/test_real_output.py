"""Real devices' output, from outside this project (ntc-templates' fixtures, vendors' command references, other
projects' recordings): every case must parse to what a person read off the raw output, and so must the same output
with pager debris in it. Layout: real/<platform>/<kind>/<case>/{raw.txt, expected.json, SOURCE.md}."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from collectors.ssh.parse import as_json, parse
from tests.ssh_collect.paging import VARIANTS

REAL = Path(__file__).parent / "real"
CASES = sorted(p.parent for p in REAL.glob("*/*/*/raw.txt"))


def _where(case: Path) -> tuple[str, str]:
    return case.parent.parent.name, case.parent.name


@pytest.mark.parametrize("case", CASES, ids=[str(c.relative_to(REAL)) for c in CASES])
def test_real_output_parses(case: Path) -> None:
    platform, kind = _where(case)
    assert (case / "SOURCE.md").read_text(encoding="utf-8").strip(), "every real case says where it came from"
    raw = (case / "raw.txt").read_text(encoding="utf-8")
    assert as_json(parse(platform, kind, raw)) == json.loads((case / "expected.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("case", CASES, ids=[str(c.relative_to(REAL)) for c in CASES])
def test_pager_debris_changes_nothing(case: Path, variant: str) -> None:
    platform, kind = _where(case)
    raw = (case / "raw.txt").read_text(encoding="utf-8")
    expected = json.loads((case / "expected.json").read_text(encoding="utf-8"))
    assert as_json(parse(platform, kind, VARIANTS[variant](raw))) == expected


def test_there_are_real_cases_for_every_platform() -> None:
    platforms = {_where(c)[0] for c in CASES}
    assert platforms >= {"huawei_vrp", "hp_comware", "ruijie_os", "cisco_ios"}
