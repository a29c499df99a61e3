"""One wave of a change job through ansible-runner: the playbook limited to the wave's devices, each device's
outcome read from the play's last task, every event passed on as it happens (for the job's event stream).

The contract with the playbooks (playbooks/README.md): the last task of the play on each host is named
`yiwang outcome`, and its result's `msg` is `{outcome, detail, commands, rollback}` (the `yiwang.extranet.rollout`
action, which fails the task unless the outcome is ok, or a `debug`). A host that never gets there (unreachable,
a template error, a task failed outside the playbook's own rescue) is `failed`, with the reason the events give.

Each run has a private data folder of its own, created here and removed afterwards: ansible-runner's `env/` files
would carry extravars into the next run, and its artifacts hold the service's whole environment.
"""

from __future__ import annotations

import difflib
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

OUTCOME_TASK = "yiwang outcome"
OUTCOMES = frozenset({"ok", "rolled-back", "needs-person", "precheck-failed", "failed"})

EventSink = Callable[[Mapping[str, Any]], None]


@dataclass(frozen=True, slots=True)
class Outcome:
    device: str
    state: str  # one of OUTCOMES
    detail: str = ""
    commands: tuple[str, ...] = ()
    rollback: tuple[str, ...] = ()
    diff: str = ""


@dataclass(frozen=True, slots=True)
class WaveRun:
    outcomes: dict[str, Outcome]
    rc: int
    status: str
    changed: dict[str, int] = field(default_factory=dict)  # per host, from the play recap


def outcomes_of(events: Iterable[Mapping[str, Any]], devices: Sequence[str]) -> dict[str, Outcome]:
    """Each device's outcome from ansible-runner's events (pure)."""
    found: dict[str, Outcome] = {}
    trouble: dict[str, str] = {}
    diffs: dict[str, list[str]] = {}
    for event in events:
        data = event.get("event_data") or {}
        host = str(data.get("host", ""))
        if host not in devices:
            continue
        kind = event.get("event")
        result = data.get("res") or {}
        task = str(data.get("task", ""))
        if kind in ("runner_on_ok", "runner_on_failed") and task == OUTCOME_TASK \
                and (kind == "runner_on_ok" or isinstance(result.get("msg"), Mapping)):
            found[host] = _outcome(host, result.get("msg"))
        elif kind == "runner_on_ok" and isinstance(result.get("diff"), dict | list):
            diffs.setdefault(host, []).append(_diff_text(result["diff"]))
        elif kind == "runner_on_unreachable":
            trouble[host] = f"unreachable: {_words(result.get('msg'))}"
        elif kind == "runner_on_failed" and not data.get("ignore_errors"):
            trouble.setdefault(host, f"{task}: {_words(result.get('msg'))}")
    outcomes = {}
    for device in devices:
        outcome = found.get(device) or Outcome(device, "failed", trouble.get(device, "no result: the play never "
                                                                                     "reached its outcome"))
        if device in diffs and not outcome.diff:
            outcome = Outcome(outcome.device, outcome.state, outcome.detail, outcome.commands, outcome.rollback,
                              "\n".join(d for d in diffs[device] if d))
        outcomes[device] = outcome
    return outcomes


def _outcome(host: str, message: Any) -> Outcome:
    if not isinstance(message, Mapping) or message.get("outcome") not in OUTCOMES:
        return Outcome(host, "failed", f"the play's outcome is not one yiwang knows: {str(message)[:200]}")
    return Outcome(host, str(message["outcome"]), _words(message.get("detail")),
                   tuple(str(c) for c in message.get("commands") or ()),
                   tuple(str(c) for c in message.get("rollback") or ()))


def _diff_text(diff: Any) -> str:
    """Ansible's diff as text: `prepared` when a module wrote it so, else before and after as a unified diff."""
    parts = diff if isinstance(diff, list) else [diff]
    texts = []
    for part in parts:
        if not isinstance(part, Mapping):
            continue
        if part.get("prepared"):
            texts.append(str(part["prepared"]))
        elif "before" in part or "after" in part:
            texts.append("".join(difflib.unified_diff(
                str(part.get("before") or "").splitlines(keepends=True),
                str(part.get("after") or "").splitlines(keepends=True), "before", "after")))
    return "\n".join(texts).strip()


def _words(value: Any) -> str:
    return " ".join(str(value or "").split())[:500]


def run_wave(playbooks_dir: Path, playbook: str, inventory: Path, devices: Sequence[str], *, check: bool = False,
             extravars: Mapping[str, Any] | None = None, on_event: EventSink | None = None,
             forks: int = 10, work_root: Path | None = None) -> WaveRun:
    """Blocking: the caller runs it in a thread. Nothing of `extravars` may be secret (they reach the artifacts)."""
    import ansible_runner

    events: list[Mapping[str, Any]] = []

    def keep(event: Mapping[str, Any]) -> bool:
        events.append(event)
        if on_event is not None:
            on_event(event)
        return False  # not written to the artifacts folder: it is removed anyway, and held here

    private = Path(tempfile.mkdtemp(prefix="yiwang-wave-", dir=work_root))
    try:
        (private / "project").symlink_to(playbooks_dir.resolve(), target_is_directory=True)
        envvars = {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
                   "ANSIBLE_CONFIG": str(playbooks_dir.resolve() / "ansible.cfg"),
                   "PYTHONPATH": os.environ.get("PYTHONPATH", "")}
        result = ansible_runner.run(
            private_data_dir=str(private), playbook=playbook, inventory=str(inventory.resolve()),
            limit=",".join(devices), extravars=dict(extravars or {}), envvars=envvars, forks=forks, quiet=True,
            suppress_env_files=True, event_handler=keep, cmdline="--check --diff" if check else "--diff")
        # events are held here, not written (see keep): the recap comes from the stats event itself
        recap = next((e.get("event_data") or {} for e in reversed(events) if e.get("event") == "playbook_on_stats"),
                     {})
        changed = {str(host): int(count) for host, count in (recap.get("changed") or {}).items()}
        return WaveRun(outcomes_of(events, devices), int(result.rc), str(result.status), changed)
    finally:
        shutil.rmtree(private, ignore_errors=True)
