"""One device's part of a change job, as an engineer does it at the console, in one SSH session: check the
interfaces the change touches are up, lay the lines over the running configuration (`change.change_on`: a refused
line, a dropped session and a lock-out are put back there), check again (the interfaces up, the running
configuration holding every line, for IPv6 the uplink's address in the IPv6 brief and a ping to the parent's
address), and put the device back at once when a check fails, then check that it answers as before.

One session instead of one per step because each login costs the controller more CPU than everything typed in it
(the city's rollout is ~4,200 devices). The checks' verdicts are pure functions (`interfaces_down`, `ipv6_problem`,
`ping_answered`, `outcome_of`) over what the device printed; the session around them is the thin shell.

The result is the job's record of the device: `outcome` (ok, rolled-back, needs-person, precheck-failed, failed),
`detail` for the operator, and the lines typed and their way back with SNMP community values shown as `<hidden>`
(the rollback playbook puts them back from the credential reference)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from collectors.ifname import same_interface
from collectors.platforms import cli_of
from collectors.ssh.parse import ParseError, parse
from collectors.ssh.session import SessionSettings, SshError, session
from yiwang.push.access import Access
from yiwang.push.change import change_on, way_back_on
from yiwang.push.device import Device

OUTCOMES = ("ok", "rolled-back", "needs-person", "precheck-failed", "failed")
# What an outcome shows of a line carrying an SNMP community: the rest of the line (`read`, an ACL) stays, so the
# rollback playbook can put the value back where `<hidden>` is.
COMMUNITY_LINE = re.compile(r"^(\s*(?:no |undo )?snmp-(?:agent|server) community (?:read |write )?)\S+")
PING_ANSWERED = re.compile(r"Reply from|bytes from|Success rate is [1-9]", re.IGNORECASE)
DETAIL_MAX = 300


@dataclass(frozen=True, slots=True)
class Expect:
    """What the checks look for on the device, before and after the change."""

    up: tuple[str, ...]  # interfaces that must be up before and after (names as the inventory gives them)
    ipv6_interface: str | None = None  # the interface whose IPv6 must be up after the change
    ipv6_address: str | None = None  # an address that must show in the IPv6 brief after it (no prefix length)
    ping6: str | None = None  # an address the device must reach with `ping ipv6` after it

    @property
    def ipv6(self) -> bool:
        return self.ipv6_interface is not None


@dataclass(slots=True)
class Outcome:
    outcome: str
    detail: str
    commands: list[str] = field(default_factory=list)
    rollback: list[str] = field(default_factory=list)
    changed: bool = False

    def as_result(self) -> dict[str, Any]:
        """The action's result: failed unless ok, so a play run by hand shows the device red."""
        record = {"outcome": self.outcome, "detail": _clip(self.detail), "commands": masked(self.commands),
                  "rollback": masked(self.rollback)}
        return {"changed": self.changed, "failed": self.outcome != "ok", "msg": record}


# --- pure ------------------------------------------------------------------------------------------------------------

def masked(lines: Iterable[str]) -> list[str]:
    return [COMMUNITY_LINE.sub(r"\1<hidden>", line) for line in lines]


def interfaces_down(wanted: Sequence[str], interfaces: Iterable[Any]) -> list[str]:
    """The wanted interfaces not up in the device's interface brief (which abbreviates: `GE0/0/1`, `XGE1/0/1`)."""
    up = [i.name for i in interfaces if i.up]
    return [name for name in wanted if not any(same_interface(shown, name) for shown in up)]


def ipv6_problem(expect: Expect, ipv6_up: Iterable[str], brief: str) -> str:
    """'' when the IPv6 brief shows IPv6 up on the interface and the address there, else what is wrong."""
    if expect.ipv6_interface is None:
        return ""
    if not any(same_interface(shown, expect.ipv6_interface) for shown in ipv6_up):
        return f"IPv6 is not up on {expect.ipv6_interface}"
    if expect.ipv6_address and expect.ipv6_address.upper() not in brief.upper():
        return f"the address {expect.ipv6_address} is not on the device"
    return ""


def ping_answered(output: str) -> bool:
    return PING_ANSWERED.search(output) is not None


def outcome_of_change(result: dict[str, Any]) -> Outcome:
    """The outcome of a change the config step failed: a line refused, a session dropped, a lock-out."""
    commands, rollback = list(result.get("commands") or ()), list(result.get("rollback") or ())
    message = _words(result.get("msg") or "the change failed")
    if "rolled_back" not in result:  # nothing was typed
        return Outcome("failed", message, commands, rollback)
    state = "rolled-back" if result["rolled_back"] else "needs-person"
    return Outcome(state, message, commands, list(result.get("rollback_sent") or ()), changed=not result["rolled_back"])


def outcome_of_check(result: dict[str, Any], *, check_mode: bool) -> Outcome:
    """The outcome of a change that went through (or, in check mode, would) and whose checks passed."""
    commands, rollback = list(result.get("commands") or ()), list(result.get("rollback") or ())
    if check_mode:
        detail = f"check mode: {len(commands)} lines would be typed"
    elif result.get("changed"):
        detail = f"changed and checked: {len(commands)} lines typed, saved"
    else:
        detail = "already in place, checked"
    return Outcome("ok", detail, commands, rollback, changed=bool(result.get("changed")))


def _words(value: Any) -> str:
    return " ".join(str(value).split())


def _clip(text: str) -> str:
    return text if len(text) <= DETAIL_MAX else text[: DETAIL_MAX - 3] + "..."


# --- the session -----------------------------------------------------------------------------------------------------

def rollout(access: Access, lines: Sequence[str], expect: Expect, *, check_mode: bool, save: bool,
            settings: SessionSettings) -> Outcome:
    """Pre-check, change, post-check and (when a post-check fails) the way back, in one session (two while lines
    are typed: the spare kept for a lock-out). Never raises for the device's sake: what failed is the outcome."""
    if not expect.up:
        return Outcome("precheck-failed", "nothing to check: the change names no interface of this device")
    try:
        with session(access.endpoint, settings, access.known_hosts) as conn:
            device = Device(conn, access.endpoint.platform, settings.read_timeout)
            return _rollout(device, access, lines, expect, check_mode=check_mode, save=save, settings=settings)
    except SshError as exc:
        return Outcome("precheck-failed", f"the device did not answer: {exc}")


def _rollout(device: Device, access: Access, lines: Sequence[str], expect: Expect, *, check_mode: bool, save: bool,
             settings: SessionSettings) -> Outcome:
    try:
        down = interfaces_down(expect.up, _interfaces(device))
    except ParseError as exc:
        return Outcome("precheck-failed", f"the interface brief could not be read: {exc}")
    if down:
        return Outcome("precheck-failed", "not up: " + ", ".join(down))
    try:
        applied = change_on(device, access, lines, (), check=check_mode, save=save, settings=settings,
                            keep_rollback_session=save)
    except SshError as exc:  # after the pre-check: never `precheck-failed`, which says nothing was touched
        return Outcome("failed", f"the session failed during the change ({exc}); whether any line got in is not "
                                 "known: read the device's configuration")
    result = applied.result
    if result.get("failed"):
        return outcome_of_change(result)
    if check_mode:
        return outcome_of_check(result, check_mode=True)
    try:
        problem = _post_check(device, expect, result)
    except (SshError, ParseError) as exc:
        problem = f"the post-check could not read the device: {exc}"
    if not problem:
        return outcome_of_check(result, check_mode=False)
    if applied.change is None:  # nothing was typed this time: nothing of ours to put back
        return Outcome("failed", problem, list(result.get("commands") or ()), list(result.get("rollback") or ()))
    back = way_back_on(applied.change, device, result, problem)
    outcome = outcome_of_change(back)
    if outcome.outcome == "rolled-back":
        try:
            still = interfaces_down(expect.up, _interfaces(device))
        except (SshError, ParseError) as exc:
            still = [f"(the interface brief could not be read: {exc})"]
        if still:
            outcome.outcome, outcome.detail = "needs-person", f"{outcome.detail}; after it, not up: {', '.join(still)}"
    return outcome


def _interfaces(device: Device) -> list[Any]:
    return list(parse(device.platform, "interfaces", device.show(cli_of(device.platform).show["interfaces"])))


def _post_check(device: Device, expect: Expect, result: dict[str, Any]) -> str:
    """'' when the device passes every check after the change, else the first problem."""
    down = interfaces_down(expect.up, _interfaces(device))
    if down:
        return "down: " + ", ".join(down)
    if result.get("converged") is False:
        return "the configuration does not hold every line typed"
    if expect.ipv6:
        brief = device.show(cli_of(device.platform).show["ipv6_interfaces"])
        problem = ipv6_problem(expect, parse(device.platform, "ipv6_interfaces", brief), brief)
        if problem:
            return problem
    if expect.ping6:
        answer = device.show(f"ping ipv6 {expect.ping6}")
        if not ping_answered(answer):
            return f"ping ipv6 {expect.ping6} gets no reply"
    return ""
