"""The decision of "the parent sees the neighbour", on parsed tables: which entries count, and what a problem says."""

from __future__ import annotations

import pytest

from collectors.ssh.facts import Neighbour
from yiwang.change.neighbours import Expected, judge, same_interface

WANT = Expected("v1", "t1", "GigabitEthernet0/0/3", "2001:db8:100:1::2")


@pytest.mark.parametrize(("printed", "planned"), [
    ("GE0/0/3", "GigabitEthernet0/0/3"), ("XGE1/0/1", "Ten-GigabitEthernet1/0/1"),
    ("XGE0/0/1", "XGigabitEthernet0/0/1"), ("Gi0/1", "GigabitEthernet0/1"), ("Gi0/1", "GigabitEthernet 0/1"),
    ("GigabitEthernet 0/1", "GigabitEthernet0/1"), ("Te1/0/1", "TenGigabitEthernet1/0/1"), ("10GE1/0/1", "10GE1/0/1"),
    ("Vl6", "Vlan6"), ("Eth-Trunk1", "Eth-Trunk1"),
])
def test_same_interface(printed: str, planned: str) -> None:
    assert same_interface(printed, planned)


@pytest.mark.parametrize(("printed", "planned"), [
    ("GE0/0/3", "GigabitEthernet0/0/30"), ("GE0/0/3", "XGigabitEthernet0/0/3"), ("Gi0/1", "TenGigabitEthernet0/1"),
    ("Vl6", "Vlan60"), ("", "GigabitEthernet0/1"),
])
def test_different_interface(printed: str, planned: str) -> None:
    assert not same_interface(printed, planned)


def test_the_planned_address_or_a_link_local_on_the_port_is_seen() -> None:
    assert judge(WANT, [Neighbour("2001:db8:100:1::2", "GE0/0/3", "STALE")]) == ""
    assert judge(WANT, [Neighbour("fe80::1", "GE0/0/3", "REACH")]) == ""


def test_what_the_table_shows_instead() -> None:
    assert judge(WANT, []) == ("t1 has no IPv6 neighbour entry for v1 on GigabitEthernet0/0/3 (looked for "
                               "2001:db8:100:1::2 or a link-local address); its table has 0 entries, none on that port")
    said = judge(WANT, [Neighbour("2001:db8:100:1::2", "GE0/0/3", "INCMP")])
    assert said.endswith("; incomplete (asked, no answer): 2001:db8:100:1::2"), said
    said = judge(WANT, [Neighbour("2001:db8:100:1::2", "GE0/0/4", "STALE"), Neighbour("2001:db8::9", "GE0/0/3",
                                                                                       "STALE")])
    assert "on that port instead: 2001:db8::9" in said and "2001:db8:100:1::2 is on GE0/0/4" in said, said
