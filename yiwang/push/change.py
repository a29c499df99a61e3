"""One change on one device, and its way back when the device refuses a line, drops the session while the lines go
in, or is cut off its management address by them (the classic lock-out).

The way back is typed through a session that still reaches the device: for a refused line the same one (else a
new one, else the one opened before the change); for a dropped session a new one, else the one opened before the
change; when no new session opens after the change, the one opened before it (kept idle for this, as an engineer
keeps a second window open), else the typing one.
It puts back the running configuration read before the change (hier_config works out the lines from whatever got
in), saves once the configuration is as before, and, but for a refused line, confirms with a new session that the
device answers and holds the configuration it had. Whatever is left undone is said in the result, for a person."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any

from collectors.ssh.session import SessionSettings, SshError, log_in, session
from yiwang.push.access import Access
from yiwang.push.device import Device
from yiwang.push.plan import ConfigPlan, PlanError, plan_change, typed, way_back
from yiwang.push.tasks import failed

NEW = "a new session"
SPARE = "the session opened before the change"
TYPING = "the session that typed the change"
Way = tuple[str, Callable[[], AbstractContextManager[Device]]]


@dataclass(frozen=True, slots=True)
class Change:
    access: Access
    settings: SessionSettings
    before: str  # the running configuration read before typing: what the way back puts back
    save: bool

    @property
    def platform(self) -> str:
        return self.access.endpoint.platform

    @contextmanager
    def fresh(self) -> Iterator[Device]:
        with session(self.access.endpoint, self.settings, self.access.known_hosts) as conn:
            yield Device(conn, self.platform, self.settings.read_timeout)

    def reachable(self) -> str:
        """'' when a new login succeeds (the management address answers), else why not."""
        try:
            log_in(self.access.endpoint, self.settings, self.access.known_hosts)
        except SshError as exc:
            return str(exc)
        return ""


def change_config(access: Access, lines: Sequence[str], parents: Sequence[str], *, check: bool, save: bool,
                  settings: SessionSettings, keep_rollback_session: bool = False) -> dict[str, Any]:
    """Read the running configuration, plan, and (unless `check`) type the remediation, in a session of its own
    (see `change_on`)."""
    try:
        with session(access.endpoint, settings, access.known_hosts) as conn:
            device = Device(conn, access.endpoint.platform, settings.read_timeout)
            return change_on(device, access, lines, parents, check=check, save=save, settings=settings,
                             keep_rollback_session=keep_rollback_session).result
    except SshError as exc:
        return failed(access, str(exc), reason=exc.reason)


@dataclass(frozen=True, slots=True)
class Applied:
    result: dict[str, Any]  # the config module's result
    change: Change | None  # set once lines were typed: what a later way back puts back


def change_on(device: Device, access: Access, lines: Sequence[str], parents: Sequence[str], *, check: bool,
              save: bool, settings: SessionSettings, keep_rollback_session: bool = False) -> Applied:
    """Through an open session: read the running configuration, plan, and (unless `check`) type the remediation.
    With `keep_rollback_session` a second session is opened before anything is typed, and after the lines a new
    session must open (before the change is saved); if none does, the change is undone through the second one.
    Raises SshError only when the session fails before anything is typed."""
    platform = access.endpoint.platform
    running = device.running_config()
    try:
        plan = plan_change(platform, running, lines, parents)
    except PlanError as exc:
        return Applied(failed(access, str(exc), reason="plan"), None)
    result: dict[str, Any] = {"changed": plan.changed, "commands": list(plan.commands),
                              "rollback": list(plan.rollback), "saved": False,
                              "diff": {"before": plan.before, "after": plan.after}}
    if check or not plan.changed:
        return Applied(result, None)
    change = Change(access, settings, running, save)
    with ExitStack() as kept:
        spare = None
        if keep_rollback_session:
            try:
                spare = kept.enter_context(change.fresh())
            except SshError as exc:
                return Applied(failed(access, f"no second session for the way back, so nothing was typed: {exc}",
                                      reason=exc.reason), None)
        return Applied(_apply(change, device, spare, plan, lines, parents, result), change)


def way_back_on(change: Change, device: Device, result: dict[str, Any], why: str) -> dict[str, Any]:
    """Put back a change the device took whole but whose checks failed: through the session that typed it, else a
    new one; confirmed by a new session. The result fails either way (`rolled_back` says how it ended)."""
    return _way_back(change, [(TYPING, lambda: nullcontext(device)), (NEW, change.fresh)], result, why,
                     fault="post-check")


def _apply(change: Change, device: Device, spare: Device | None, plan: ConfigPlan, lines: Sequence[str],
           parents: Sequence[str], result: dict[str, Any]) -> dict[str, Any]:
    platform = change.platform
    kept: list[Way] = [(SPARE, lambda: nullcontext(spare))] if spare is not None else []
    to_type = typed(platform, plan.commands)
    done = device.type_lines(to_type)
    if done.dropped:
        why = f"the session dropped after {len(done.taken)} of {_lines(to_type)} ({done.dropped})"
        return _way_back(change, [(NEW, change.fresh), *kept], result, why, fault="dropped")
    if done.rejected is not None:
        why = f"the device rejected {done.rejected!r}: {done.error}"
        ways: list[Way] = [(TYPING, lambda: nullcontext(device)), (NEW, change.fresh), *kept]
        return {**_way_back(change, ways, result, why, fault="rejected"),
                "rejected_line": done.rejected, "device_error": done.error}
    try:
        if spare is not None and (lost := change.reachable()):
            why = f"management lost after the change: no new session opens ({lost})"
            return _way_back(change, [*kept, (TYPING, lambda: nullcontext(device))], result, why,
                             fault="management-lost")
        now = device.running_config()
        result["converged"] = not plan_change(platform, now, lines, parents).changed
        if not result["converged"]:
            result["warnings"] = ["the device holds the lines differently from how they were typed; the next "
                                  "run will type them again (write them as the device prints them)"]
        if change.save:
            device.save()
            result["saved"] = True
    except SshError as exc:
        why = f"the session failed after the lines went in ({exc})"
        return _way_back(change, [(NEW, change.fresh), *kept], result, why, fault=exc.reason)
    return result


def _way_back(change: Change, ways: Sequence[Way], result: dict[str, Any], why: str, fault: str) -> dict[str, Any]:
    """Put the configuration back through the first of `ways` that reaches the device; the result fails either
    way, `rolled_back` saying whether the device is as before (and, but for a refused line, reachable)."""
    tried: list[str] = []
    for name, opened in ways:
        try:
            with opened() as device:
                sent, left, refused = _undo(change, device)
        except SshError as exc:
            tried.append(f"{name}: {exc}")
            continue
        rolled_back = not refused and not left
        if refused:
            note = f"ROLLBACK FAILED through {name}: {refused}"
        elif left:
            note = f"ROLLBACK INCOMPLETE through {name}: the configuration differs from before"
        else:
            note = f"rolled back through {name} ({_lines(sent)}){' and saved' if change.save else ''}"
            if fault == "rejected":
                note += ", the configuration is as before"
            else:  # the device must take a new session again and show the configuration it had
                unconfirmed = _confirm(change)
                note += "; " + (unconfirmed or "a new session opens and the configuration is as before")
                rolled_back = not unconfirmed
        return _outcome(change, result, f"{why}; {note}", fault, sent, left, rolled_back)
    note = "ROLLBACK FAILED: no session reaches the device (" + "; ".join(tried) + ")"
    return _outcome(change, result, f"{why}; {note}", fault, (), (), rolled_back=False)


def _undo(change: Change, device: Device) -> tuple[tuple[str, ...], tuple[str, ...], str]:
    """Type what takes the device back to the configuration it had; (lines sent, lines still differing, the
    device's refusal if any). Saved only when nothing differs."""
    platform = change.platform
    back = way_back(platform, device.running_config(), change.before)
    if back:
        undone = device.type_lines(typed(platform, back))
        if undone.dropped:
            raise SshError("dropped", undone.dropped)
        if undone.rejected is not None:
            return back, back, f"the device rejected {undone.rejected!r}: {undone.error}"
    left = way_back(platform, device.running_config(), change.before)
    if not left and change.save:
        device.save()
    return back, left, ""


def _confirm(change: Change) -> str:
    """'' when a new session opens and reads the configuration the device had before, else what is wrong."""
    try:
        with change.fresh() as device:
            left = way_back(change.platform, device.running_config(), change.before)
    except SshError as exc:
        return f"ROLLBACK UNCONFIRMED: no new session opens ({exc})"
    return f"ROLLBACK UNCONFIRMED: a new session reads {len(left)} lines different from before" if left else ""


def _outcome(change: Change, result: dict[str, Any], message: str, fault: str, sent: Sequence[str],
             left: Sequence[str], rolled_back: bool) -> dict[str, Any]:
    # Changed only if the device is not as it was: a change undone whole leaves nothing changed.
    return {**result, **failed(change.access, message), "changed": not rolled_back, "fault": fault,
            "rolled_back": rolled_back, "rollback_sent": list(sent), "left_over": list(left)}


def _lines(lines: Sequence[str]) -> str:
    return f"{len(lines)} line{'' if len(lines) == 1 else 's'}"
