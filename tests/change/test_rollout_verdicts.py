"""The verdicts of `yiwang.extranet.rollout` (yiwang.push.rollout), pure: what the device printed -> the outcome.
The ping outputs are the vendors' own, as their command references print them (VRP `ping ipv6`, Comware 7
`ping ipv6`, IOS and RGOS `ping ipv6`), success and failure."""

from __future__ import annotations

from pathlib import Path

import pytest

from collectors.ssh.facts import Interface
from collectors.ssh.session import Endpoint, SessionSettings, SshError, SshLogin
from yiwang.push.rollout import (
    Expect,
    interfaces_down,
    ipv6_problem,
    masked,
    outcome_of_change,
    outcome_of_check,
    ping_answered,
)

VRP_OK = """  PING 2001:DB8:110:40E1::1 : 56  data bytes, press CTRL_C to break
    Reply from 2001:DB8:110:40E1::1
    bytes=56 Sequence=1 hop limit=64  time = 20 ms
  --- 2001:DB8:110:40E1::1 ping statistics ---
    5 packet(s) transmitted
    5 packet(s) received
    0.00% packet loss"""
VRP_LOST = """  PING 2001:DB8:110:40E1::1 : 56  data bytes, press CTRL_C to break
    Request time out
    Request time out
  --- 2001:DB8:110:40E1::1 ping statistics ---
    5 packet(s) transmitted
    0 packet(s) received
    100.00% packet loss"""
COMWARE_OK = """Ping6(56 data bytes)
2001::1 --> 2001::2, press CTRL_C to break
56 bytes from 2001::2, icmp_seq=0 hlim=64 time=62.000 ms
--- Ping6 statistics for 2001::2 ---
5 packet(s) transmitted, 5 packet(s) received, 0.0% packet loss"""
COMWARE_LOST = """Ping6(56 data bytes)
2001::1 --> 2001::2, press CTRL_C to break
Request time out
--- Ping6 statistics for 2001::2 ---
5 packet(s) transmitted, 0 packet(s) received, 100.0% packet loss"""
IOS_OK = """Type escape sequence to abort.
Sending 5, 100-byte ICMP Echos to 2001:DB8::1, timeout is 2 seconds:
!!!!!
Success rate is 100 percent (5/5), round-trip min/avg/max = 1/1/4 ms"""
# ntc-templates' recorded `display interface brief` of a VRP device (its SOURCE.md says where from)
BRIEF = Path(__file__).parents[1] / "ssh_collect" / "real" / "huawei_vrp" / "interfaces" / \
    "ntc-huawei_vrp_display_interface_brief"
IOS_LOST = """Type escape sequence to abort.
Sending 5, 100-byte ICMP Echos to 2001:DB8::1, timeout is 2 seconds:
.....
Success rate is 0 percent (0/5)"""


@pytest.mark.parametrize(("output", "answered"), [(VRP_OK, True), (VRP_LOST, False), (COMWARE_OK, True),
                                                  (COMWARE_LOST, False), (IOS_OK, True), (IOS_LOST, False)])
def test_a_ping_answered(output: str, answered: bool) -> None:
    assert ping_answered(output) is answered


def test_interfaces_down_reads_the_briefs_abbreviations() -> None:
    shown = [Interface("GE0/0/1", True), Interface("XGE1/0/1", True), Interface("Gi0/2", False),
             Interface("GigabitEthernet 0/3", True)]
    assert interfaces_down(["GigabitEthernet0/0/1", "Ten-GigabitEthernet1/0/1", "GigabitEthernet 0/3"], shown) == []
    assert interfaces_down(["GigabitEthernet0/2", "GigabitEthernet0/0/4"], shown) == \
        ["GigabitEthernet0/2", "GigabitEthernet0/0/4"]


def test_ipv6_problem_wants_the_interface_up_and_the_address_on_it() -> None:
    expect = Expect(("GigabitEthernet0/0/1",), "GigabitEthernet0/0/1", "2001:db8:110:40e1::2")
    brief = "GigabitEthernet0/0/1  up  up\n[IPv6 Address] 2001:DB8:110:40E1::2\n"
    assert ipv6_problem(expect, ["GigabitEthernet0/0/1"], brief) == ""
    assert ipv6_problem(expect, ["GE0/0/1"], brief) == ""
    assert ipv6_problem(expect, [], brief) == "IPv6 is not up on GigabitEthernet0/0/1"
    assert ipv6_problem(expect, ["GE0/0/1"], "GigabitEthernet0/0/1 up up\n[IPv6 Address] FE80::1\n") == \
        "the address 2001:db8:110:40e1::2 is not on the device"
    assert ipv6_problem(Expect(("GigabitEthernet0/0/1",)), [], "") == ""  # not an IPv6 change


def test_community_values_are_hidden_and_the_rest_of_the_line_kept() -> None:
    assert masked(["snmp-agent community read s3cret acl 2001", "undo snmp-agent community write x",
                   " no snmp-server community pub RO ipv6 YIWANG-MGMT6", "ipv6 enable"]) == \
        ["snmp-agent community read <hidden> acl 2001", "undo snmp-agent community write <hidden>",
         " no snmp-server community <hidden> RO ipv6 YIWANG-MGMT6", "ipv6 enable"]


def test_outcomes_of_a_failed_change() -> None:
    nothing_typed = outcome_of_change({"failed": True, "msg": "r1: no second session", "commands": ["ipv6"],
                                       "rollback": ["undo ipv6"]})
    assert (nothing_typed.outcome, nothing_typed.changed, nothing_typed.rollback) == ("failed", False, ["undo ipv6"])
    back = outcome_of_change({"failed": True, "msg": "r1: rejected;\n rolled back", "commands": ["ipv6"],
                              "rollback": ["undo ipv6"], "rolled_back": True, "rollback_sent": ["undo ipv6"]})
    assert (back.outcome, back.changed, back.detail) == ("rolled-back", False, "r1: rejected; rolled back")
    stuck = outcome_of_change({"failed": True, "msg": "ROLLBACK FAILED", "rolled_back": False})
    assert (stuck.outcome, stuck.changed) == ("needs-person", True)


def test_outcomes_of_a_change_that_went_through() -> None:
    done = {"changed": True, "commands": ["ipv6", "interface GE0/0/1"], "rollback": ["undo ipv6"]}
    assert outcome_of_check(done, check_mode=True).detail == "check mode: 2 lines would be typed"
    assert outcome_of_check(done, check_mode=False).detail == "changed and checked: 2 lines typed, saved"
    assert outcome_of_check({"changed": False}, check_mode=False).detail == "already in place, checked"
    record = outcome_of_check(done, check_mode=False).as_result()
    assert record == {"changed": True, "failed": False, "msg": {
        "outcome": "ok", "detail": "changed and checked: 2 lines typed, saved", "commands": done["commands"],
        "rollback": done["rollback"]}}


class SessionLostAfterThePrecheck:
    """A device whose interface brief reads, then whose session fails (a prompt that never comes)."""

    platform = "huawei_vrp"

    def show(self, command: str) -> str:
        if command == "display interface brief":
            return (BRIEF / "raw.txt").read_text()
        raise SshError("timeout", "r1: no prompt within 10s")

    def running_config(self) -> str:
        raise SshError("timeout", "r1: no prompt within 10s")


def test_a_session_lost_during_the_change_is_failed_not_precheck_failed(tmp_path: Path) -> None:
    from yiwang.push.access import Access
    from yiwang.push.rollout import _rollout

    access = Access(Endpoint("r1", "huawei_vrp", "127.0.0.1", 22, SshLogin("u", "p")), tmp_path / "pin")
    outcome = _rollout(SessionLostAfterThePrecheck(), access, ["ipv6"], Expect(("GigabitEthernet8/1/16",)),  # type: ignore[arg-type]
                       check_mode=False, save=True, settings=SessionSettings(tmp_path))
    assert outcome.outcome == "failed" and "whether any line got in is not known" in outcome.detail
