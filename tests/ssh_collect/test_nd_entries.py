"""The IPv6 neighbour table read entry by entry, on real devices' output (the `nd` cases of real/, each with its
`entries.json` read off the raw output) and on the lab's, which must say the same as the count reader."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from collectors.ssh.parse import as_json, parse
from tests.ssh_collect.paging import VARIANTS

REAL = Path(__file__).parent / "real"
CASES = sorted(p.parent for p in REAL.glob("*/nd/*/entries.json"))
LAB = Path(__file__).parent / "cases"


@pytest.mark.parametrize("case", CASES, ids=[str(c.relative_to(REAL)) for c in CASES])
def test_real_tables_read_entry_by_entry(case: Path) -> None:
    platform = case.parent.parent.name
    raw = (case / "raw.txt").read_text(encoding="utf-8")
    expected = json.loads((case / "entries.json").read_text(encoding="utf-8"))
    assert as_json(parse(platform, "nd_entries", raw)) == expected
    assert len(expected) == parse(platform, "nd", raw)
    for variant in VARIANTS.values():
        assert as_json(parse(platform, "nd_entries", variant(raw))) == expected


def test_every_platform_has_a_real_case() -> None:
    assert {c.parent.parent.name for c in CASES} >= {"huawei_vrp", "hp_comware", "cisco_ios", "ruijie_os"}


@pytest.mark.parametrize("platform", ["huawei_vrp", "hp_comware", "cisco_ios", "ruijie_os"])
def test_lab_tables_agree_with_the_count(platform: str) -> None:
    raw = (LAB / f"{platform}-nd" / "raw.txt").read_text()
    entries = parse(platform, "nd_entries", raw)
    assert len(entries) == parse(platform, "nd", raw) == 1
    assert entries[0].address.startswith("fe80::") and entries[0].state == "STALE"


def test_comware_long_address_on_its_own_line() -> None:
    raw = ("Type: S-Static    D-Dynamic    O-Openflow     R-Rule    IS-Invalid static\n"
           "IPv6 address                            Link layer     VID  Interface/Link ID  State T  Aging\n"
           "2001:DB8:1234:5678:9ABC:DEF0:1234:5678\n"
           "                                        5a09-0bcd-11e0 N/A  GE1/0/1            REACH D  5\n")
    (entry,) = parse("hp_comware", "nd_entries", raw)
    assert (entry.address, entry.interface, entry.state) == ("2001:db8:1234:5678:9abc:def0:1234:5678", "GE1/0/1",
                                                            "REACH")


def test_not_a_table_is_a_parse_error() -> None:
    from collectors.ssh.text import ParseError
    for platform in ("huawei_vrp", "hp_comware", "cisco_ios"):
        with pytest.raises(ParseError):
            parse(platform, "nd_entries", "Info: nothing to see here\n")
