"""Change jobs as a service: planned from the inventory, pushed wave by wave through ansible-runner, each wave after
the first released by an approver, every step an audit record, every Ansible event passed to whoever watches.

The decisions are in `yiwang.change.jobs` (pure); this module is the I/O around them:

- **plan**: the devices the change touches in the area, the waves, and a dry run (`--check`) of every device, whose
  lines are the job's diff. A template that fails or a platform without a template stops the plan: nothing of an
  invalid plan can be started. A device that cannot be reached at planning is kept, with why; it is checked again
  when its wave comes.
- **a wave**: yiwang's own pre-checks (ICMP and SNMP, a fresh backup taken if missing, no firing alert on the
  uplink, not in another job or another job's maintenance window), the job's maintenance window opened over the
  wave's devices, the playbook run tier by tier from the top (a village's post-check pings its township end, which
  must be changed first), an SNMP check of every device that passed, and a rollback of any that no longer answers.
  A device that needs a person stops the wave; the job then waits for a person.
- **one runner**: a wave is run by the process that holds the job's lease in SQL (`yiwang run`, or the command line
  that started or released it); a process that died is replaced when its lease goes stale, so a job survives a
  restart and resumes in the wave it was in. A device whose outcome is recorded is never pushed again.

Nothing secret passes through here: the job's Ansible inventory holds references to the credentials, which the
collection's plugins resolve inside `no_log` tasks; the outcomes hide SNMP communities before they are recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import shutil
import socket
import time
from collections import deque
from collections.abc import Callable, Coroutine, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast

import yaml
from sqlalchemy import Engine

from inventory.ansible import ipv6_of, to_ansible
from inventory.model import Inventory, Level
from yiwang.audit import AuditEvent, Trail
from yiwang.auth.roles import Identity, Permission, Role
from yiwang.change.jobs import (
    ACTIVE_JOB,
    FINAL_JOB,
    SETTLED,
    ChangeError,
    ChangeJob,
    ChangeStore,
    DeviceChange,
    DeviceState,
    abort,
    approve,
    progress,
    start,
    to_push,
    wave_finished,
)
from yiwang.change.runner import Outcome, WaveRun, run_wave
from yiwang.change.waves import WavePlanError, plan_waves, tiers
from yiwang.config import Settings

if TYPE_CHECKING:
    from yiwang.archive.service import ConfigArchive

log = logging.getLogger("yiwang.change")

PLAYBOOKS = Path(__file__).resolve().parents[2] / "playbooks"
PLAYBOOK_OF = {"ipv6": "ipv6_dualstack.yml", "bandwidth": "bandwidth.yml"}
TEMPLATES_OF = {"ipv6": "ipv6", "bandwidth": "bandwidth"}
ROLLBACK_PLAYBOOK = "rollback.yml"
LEASE_STALE_S = 60.0
LEASE_RENEW_S = 10.0
EVENTS_KEPT = 5000
# the Ansible events a watcher is shown; the others (play start, includes, verbose output) say nothing new
SHOWN_EVENTS = frozenset({"runner_on_ok", "runner_on_failed", "runner_on_unreachable", "runner_on_skipped",
                          "playbook_on_task_start", "playbook_on_stats"})


class Checks(Protocol):
    """yiwang's own checks around a wave (yiwang.change.prechecks)."""

    async def before(self, devices: Sequence[str], inventory: Inventory, job_id: str,
                     busy: Mapping[str, str]) -> dict[str, tuple[str, ...]]:
        """Device -> problems (empty: ready)."""

    async def after(self, devices: Sequence[str], inventory: Inventory) -> dict[str, str]:
        """Device -> problem ("" when it answers)."""

    async def parent_sees(self, devices: Sequence[str], inventory: Inventory) -> dict[str, str]:
        """Device -> problem ("" when its parent's IPv6 neighbour table holds it)."""

    def open_window(self, job_id: str, devices: Sequence[str], created_by: str,
                    inventory: Inventory) -> int | None: ...

    def close_window(self, window: int | None) -> None: ...


@dataclass(frozen=True, slots=True)
class JobEvent:
    seq: int
    at: float
    kind: str
    data: Mapping[str, Any]

    def view(self) -> dict[str, Any]:
        return {"seq": self.seq, "at": self.at, "kind": self.kind, **self.data}


class EventHub:
    """Each job's recent events, and the watchers waiting for the next ones. Ansible's events come from the runner's
    thread; they are handed to the event loop, which alone touches the buffers."""

    def __init__(self, kept: int = EVENTS_KEPT) -> None:
        self._kept = kept
        self._events: dict[str, deque[JobEvent]] = {}
        self._seq: dict[str, int] = {}
        self._watchers: dict[str, set[asyncio.Queue[JobEvent]]] = {}
        self._listeners: list[Callable[[str, JobEvent], None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    def listen(self, listener: Callable[[str, JobEvent], None]) -> None:
        """Called with every event, in the event loop (the command line's progress bars)."""
        self._listeners.append(listener)

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def publish(self, job_id: str, kind: str, data: Mapping[str, Any]) -> None:
        # ids grow across restarts too (microseconds since the epoch, never repeated): a watcher that reconnects
        # to a new process with its Last-Event-ID gets what came after it, not nothing
        seq = max(self._seq.get(job_id, 0) + 1, time.time_ns() // 1000)
        self._seq[job_id] = seq
        event = JobEvent(seq, time.time(), kind, dict(data))
        self._events.setdefault(job_id, deque(maxlen=self._kept)).append(event)
        for queue in self._watchers.get(job_id, ()):
            queue.put_nowait(event)
        for listener in self._listeners:
            listener(job_id, event)

    def publish_threadsafe(self, job_id: str, kind: str, data: Mapping[str, Any]) -> None:
        if self._loop is None:
            self.publish(job_id, kind, data)
        else:
            self._loop.call_soon_threadsafe(self.publish, job_id, kind, data)

    def recent(self, job_id: str, after: int = 0) -> list[JobEvent]:
        return [e for e in self._events.get(job_id, ()) if e.seq > after]

    def subscribe(self, job_id: str) -> asyncio.Queue[JobEvent]:
        """A queue that gets each event of the job from now on; `unsubscribe` it when done."""
        queue: asyncio.Queue[JobEvent] = asyncio.Queue()
        self._watchers.setdefault(job_id, set()).add(queue)
        return queue

    def unsubscribe(self, job_id: str, queue: asyncio.Queue[JobEvent]) -> None:
        self._watchers.get(job_id, set()).discard(queue)


def ansible_event(event: Mapping[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """What a watcher is shown of one ansible-runner event: its kind, host, task and result flags, never the
    result itself (a module's result can hold what the device printed)."""
    kind = str(event.get("event", ""))
    if kind not in SHOWN_EVENTS:
        return None
    data = event.get("event_data") or {}
    if kind == "playbook_on_stats":
        return "ansible.stats", {k: dict(data.get(k) or {}) for k in ("ok", "changed", "failures", "dark",
                                                                         "rescued", "skipped")}
    shown: dict[str, Any] = {"event": kind, "task": str(data.get("task", ""))[:200]}
    if data.get("host"):
        shown["host"] = str(data["host"])
    result = data.get("res") or {}
    if kind.startswith("runner_on_"):
        shown["changed"] = bool(result.get("changed"))
    if kind in ("runner_on_ok", "runner_on_failed") and data.get("task") == "yiwang outcome" \
            and isinstance(result.get("msg"), Mapping):
        shown["outcome"] = str(result["msg"].get("outcome", ""))
        shown["detail"] = str(result["msg"].get("detail", ""))[:300]
    return "ansible", shown


def command_line_identity() -> Identity:
    """Whoever runs the command line on the yiwang host can read its state folder and database, so may do what an
    engineer and an approver do; four eyes still hold: the name is the login name, and it cannot release a wave of
    a job it started."""
    import getpass

    try:
        user = getpass.getuser()
    except (OSError, KeyError):
        user = f"uid:{os.getuid()}"
    return Identity(user, frozenset({Role.ENGINEER, Role.APPROVER}), "os")


Record = Callable[[Identity | None, str, str, Mapping[str, Any], str], None]


def audit_recorder(trail: Trail, source: str) -> Record:
    """Each action and step of a job as one audit record; a step no person took is the job's."""

    def record(identity: Identity | None, action: str, target: str, parameters: Mapping[str, Any],
               outcome: str) -> None:
        trail.append(AuditEvent(identity=identity.name if identity is not None else "change-job",
                                identity_kind=identity.kind if identity is not None else "job",
                                roles=identity.role_names if identity is not None else [], source=source,
                                action=action, target=target, parameters=dict(parameters), outcome=outcome))

    return record


def inventory_loader(settings: Settings) -> Callable[[], Inventory]:
    """The inventory, read again when a file in its folders changed (a plan written, a rate updated)."""
    from yiwang.assemble import load

    cached: dict[str, Any] = {}

    def stamp() -> tuple[tuple[str, int], ...]:
        return tuple(sorted((str(p), p.stat().st_mtime_ns) for folder in settings.inventory_dirs
                            if folder.is_dir() for p in folder.rglob("*") if p.is_file()))

    def current() -> Inventory:
        now = stamp()
        if cached.get("stamp") != now:
            cached["inventory"], _ = load(settings)
            cached["stamp"] = now
        inventory: Inventory = cached["inventory"]
        return inventory

    return current


class ChangeService:
    def __init__(self, settings: Settings, engine: Engine, inventory: Callable[[], Inventory], *,
                 record: Record, checks: Checks | None = None, playbooks: Path = PLAYBOOKS,
                 hub: EventHub | None = None, runner: str | None = None) -> None:
        self.settings = settings
        self.store = ChangeStore(engine)
        self.engine = engine
        self._inventory = inventory
        self._record = record
        self.checks = checks if checks is not None else DefaultChecks(settings, engine)
        self.playbooks = playbooks
        self.hub = hub or EventHub()
        self.runner = runner or f"{socket.gethostname()}:{os.getpid()}"
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self.root = settings.state_dir / "changes"

    # --- reading -----------------------------------------------------------------------------------------------

    def job(self, job_id: str) -> ChangeJob:
        job = self.store.job(job_id)
        if job is None:
            raise ChangeError(f"no change job {job_id!r}", 404)
        return job

    def view(self, job_id: str) -> dict[str, Any]:
        job = self.job(job_id)
        devices = self.store.devices(job_id)
        inventory = self._inventory()
        counties = {d.device: county_of(inventory, d.device) for d in devices}
        return {
            "id": job.id, "kind": job.kind, "area": job.area, "state": job.state, "error": job.error,
            "created_by": job.created_by, "created_at": job.created_at.isoformat(), "started_by": job.started_by,
            "current_wave": job.current_wave, "parameters": dict(job.parameters),
            "approvals": [{"wave": n, "by": by} for n, by in job.approvals],
            "waves": [{"number": w.number, "name": w.name, "devices": len(w.devices),
                       "states": _count(d.state for d in devices if d.wave == w.number)} for w in job.waves],
            "progress": progress(devices, counties),
            "totals": _count(d.state for d in devices),
            "devices": [{"device": d.device, "wave": d.wave, "state": d.state, "detail": d.detail}
                        for d in devices],
        }

    def summaries(self, limit: int = 100) -> list[dict[str, Any]]:
        return [{"id": j.id, "kind": j.kind, "area": j.area, "state": j.state, "created_by": j.created_by,
                 "created_at": j.created_at.isoformat(), "current_wave": j.current_wave, "waves": len(j.waves)}
                for j in self.store.jobs()[:limit]]

    def diff(self, job_id: str, device: str | None = None) -> str:
        """The dry run's lines per device, as an engineer reviews them before approving."""
        job = self.job(job_id)
        changes = [d for d in self.store.devices(job_id) if device is None or d.device == device]
        if device is not None and not changes:
            raise ChangeError(f"job {job_id} does not change {device!r}", 404)
        parts = [f"# change job {job.id}: {job.kind} in {job.area}, {len(changes)} devices\n"]
        for change in changes:
            parts.append(change.diff or f"# {change.device}: no dry run ({change.detail or 'nothing recorded'})\n")
        return "\n".join(parts)

    # --- planning ------------------------------------------------------------------------------------------------

    def prepare(self, kind: str, area: str, identity: Identity, *, wave_size: int | None = None,
                canary: bool = True, bandwidth_plan: Path | None = None) -> tuple[ChangeJob, list[DeviceChange]]:
        """Everything that can be refused before any device is asked: the area, the devices and their templates,
        the plan's input, the waves. Creates the job as `planning`."""
        if not identity.can(Permission.CHANGE_PLAN):
            raise ChangeError("planning a change needs the engineer role", 403)
        if kind not in PLAYBOOK_OF:
            raise ChangeError(f"no change kind {kind!r}: ipv6 or bandwidth", 422)
        inventory = self._inventory()
        if area not in inventory.areas:
            raise ChangeError(f"no area {area!r} in the inventory", 422)
        job_id = secrets.token_hex(6)
        folder = self.root / job_id
        parameters: dict[str, Any] = {"playbook": PLAYBOOK_OF[kind], "wave_size": wave_size, "canary": canary}
        if kind == "ipv6":
            if self.settings.change.mgmt_prefix6 is None:
                raise ChangeError("change.mgmt_prefix6 is not set: the IPv6 change's management ACL needs the "
                                  "prefix yiwang manages the devices from", 422)
            devices = ipv6_devices(inventory, area)
            parameters["mgmt_prefix6"] = self.settings.change.mgmt_prefix6
        else:
            if bandwidth_plan is None:
                raise ChangeError("a bandwidth job needs the plan: a CSV or YAML list of link and new rate", 422)
            from yiwang.change.bandwidth import BandwidthPlanError, devices_of, read_bandwidth_plan

            try:
                rates = read_bandwidth_plan(bandwidth_plan, inventory)
            except (BandwidthPlanError, OSError) as exc:
                raise ChangeError(f"bandwidth plan: {exc}", 422) from None
            devices = devices_of(rates)
            folder.mkdir(parents=True, exist_ok=True)
            kept = folder / f"bandwidth-plan{bandwidth_plan.suffix.lower() or '.csv'}"
            kept.write_bytes(bandwidth_plan.read_bytes())
            parameters["bandwidth_plan"] = kept.name
        if not devices:
            raise ChangeError(f"the {kind} change touches no device in {area}", 422)
        missing = sorted({inventory.devices[d].platform for d in devices
                          if not (self.playbooks / "templates" / TEMPLATES_OF[kind]
                                  / f"{inventory.devices[d].platform}.j2").is_file()})
        if missing:
            raise ChangeError(f"no {kind} template for the platform(s) {', '.join(missing)} "
                              f"(playbooks/templates/{TEMPLATES_OF[kind]}/<platform>.j2)", 422)
        try:
            waves = plan_waves(inventory, area, devices, canary_villages=self.settings.change.canary_villages
                               if canary else 0, wave_size=wave_size)
        except WavePlanError as exc:
            raise ChangeError(str(exc), 422) from None
        job = ChangeJob(job_id, kind, area, identity.name, datetime.now(UTC), tuple(waves), "planning",
                        parameters=parameters)
        changes = [DeviceChange(name, wave.number) for wave in waves for name in wave.devices]
        self.store.create(job, changes)
        self._record(identity, "change.plan", f"job={job_id} {kind} {area}",
                     {"kind": kind, "area": area, "wave_size": wave_size, "canary": canary,
                      "devices": len(changes), "waves": len(waves)}, "ok")
        return job, changes

    async def dry_run(self, job_id: str) -> ChangeJob:
        """The dry run of every device of a `planning` job: its diff recorded, the job then `planned`, or
        `invalid` when the change itself fails (a template, a module) on any device."""
        self.hub.bind(asyncio.get_running_loop())
        job = self.job(job_id)
        changes = self.store.devices(job_id)
        names = [c.device for c in changes]
        self.hub.publish(job_id, "dry-run", {"devices": len(names)})
        outcomes: dict[str, Outcome] = {}
        try:
            # wave by wave: one ansible-playbook over a whole city holds every host's results, and each of its
            # forks (one per host and task) costs in proportion (benchmarks/rollout_city.py)
            for wave in job.waves:
                outcomes.update((await self._ansible(job, list(wave.devices), check=True)).outcomes)
        except Exception as exc:  # ansible-runner could not run at all: the plan is unusable, say why
            job = replace(job, state="invalid", error=f"the dry run could not run: {exc}")
            self.store.save(job)
            return job
        run = WaveRun(outcomes, 0, "successful")
        broken: list[str] = []
        inventory = self._inventory()
        planned = []
        for change in changes:
            outcome = run.outcomes[change.device]
            platform = inventory.devices[change.device].platform if change.device in inventory.devices else "?"
            if outcome.state == "failed":
                broken.append(f"{change.device}: {outcome.detail}")
            detail = ("dry run: " + outcome.detail) if outcome.state != "ok" else ""
            planned.append(replace(change, diff=render_diff(change.device, platform, outcome),
                                   commands=outcome.commands, detail=detail))
        self.store.record(job_id, *planned)
        if broken:
            job = replace(job, state="invalid", error=f"the dry run failed on {len(broken)} device(s): "
                                                      + "; ".join(broken[:5]))
        else:
            job = replace(job, state="planned")
        self.store.save(job)
        self.hub.publish(job_id, "job", {"state": job.state, "error": job.error})
        return job

    async def plan(self, kind: str, area: str, identity: Identity, **options: Any) -> ChangeJob:
        job, _ = self.prepare(kind, area, identity, **options)
        return await self.dry_run(job.id)

    # --- people's actions ----------------------------------------------------------------------------------------

    def start(self, job_id: str, identity: Identity) -> ChangeJob:
        job = self._decide(job_id, identity, "change.start", lambda j: start(j, identity))
        return job

    def approve(self, job_id: str, identity: Identity, comment: str = "") -> ChangeJob:
        return self._decide(job_id, identity, "change.approve", lambda j: approve(j, identity), {"comment": comment})

    def abort(self, job_id: str, identity: Identity, reason: str = "") -> ChangeJob:
        """Stops after the tier being pushed (a device is never left half-changed by an abort)."""
        return self._decide(job_id, identity, "change.abort", lambda j: abort(j, identity), {"reason": reason})

    def _decide(self, job_id: str, identity: Identity, action: str, decision: Callable[[ChangeJob], ChangeJob],
                parameters: Mapping[str, Any] | None = None) -> ChangeJob:
        job = self.job(job_id)
        try:
            if action == "change.start" and job.state == "planned":
                self._refuse_busy(job)
            decided = decision(job)
        except ChangeError as exc:
            self._record(identity, action, f"job={job_id}", {**(parameters or {})}, f"refused: {exc}")
            raise
        self.store.save(decided)
        self._record(identity, action, f"job={job_id}", {**(parameters or {}), "wave": decided.current_wave,
                                                         "state": decided.state}, "ok")
        self.hub.publish(job_id, "job", {"state": decided.state, "wave": decided.current_wave, "by": identity.name,
                                         "action": action})
        return decided

    def _refuse_busy(self, job: ChangeJob) -> None:
        busy = self.store.busy_devices(excluding=job.id)
        taken = sorted(d for w in job.waves for d in w.devices if d in busy)
        if taken:
            raise ChangeError(f"{len(taken)} of its devices are in another job: "
                              + ", ".join(f"{d} ({busy[d]})" for d in taken[:5]))

    # --- running -------------------------------------------------------------------------------------------------

    def launch(self, job_id: str) -> None:
        """Runs the job's current wave in the background of this process (the API's way)."""
        if job_id in self._tasks and not self._tasks[job_id].done():
            return
        task = asyncio.create_task(self._quietly(job_id), name=f"change {job_id}")
        self._tasks[job_id] = task

    async def _quietly(self, job_id: str) -> None:
        try:
            await self.run(job_id)
        except Exception:  # a job's trouble is recorded on the job; the service goes on
            log.exception("change job %s: the wave runner failed", job_id)

    async def run(self, job_id: str) -> ChangeJob:
        """Runs the job's current wave to its end when this process can hold the job's lease; returns the job as
        it then is (awaiting approval, done, stopped, aborted) or as another runner holds it."""
        self.hub.bind(asyncio.get_running_loop())
        if not self.store.claim(job_id, self.runner, LEASE_STALE_S):
            return self.job(job_id)
        self._purge(job_id)
        renewing = asyncio.create_task(self._renew(job_id))
        try:
            return await self._run_wave(job_id)
        finally:
            renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewing
            self.store.release(job_id, self.runner)

    def _purge(self, job_id: str) -> None:
        """What a runner that died left of Ansible's in the job's folder: its inventory and private data folder
        (with the artifacts, which hold the runner's environment). The lease says no other process uses them."""
        folder = self.root / job_id
        for left in folder.glob("yiwang-wave-*"):
            shutil.rmtree(left, ignore_errors=True)
        for left in folder.glob("hosts-*.yaml"):
            left.unlink(missing_ok=True)

    async def _renew(self, job_id: str) -> None:
        while True:
            await asyncio.sleep(LEASE_RENEW_S)
            await asyncio.to_thread(self.store.renew, job_id, self.runner)

    async def _run_wave(self, job_id: str) -> ChangeJob:
        job = self.job(job_id)
        if job.state != "running":
            return job
        inventory = self._inventory()
        devices = self.store.devices(job_id)
        pending = to_push(job, devices)
        wave = job.waves[job.current_wave]
        self.hub.publish(job_id, "wave-started", {"wave": wave.number, "name": wave.name, "devices": len(pending)})
        self._record(None, "change.wave-started", f"job={job_id}", {"wave": wave.number, "name": wave.name,
                                                                   "devices": len(pending)}, "ok")
        by_name = {d.device: d for d in devices}
        with self._phase(job_id, "prechecks", len(pending)):
            ready = await self._prechecks(job, pending, inventory, by_name)
        window = (self.checks.open_window(job_id, ready, job.started_by or job.created_by, inventory)
                  if ready else None)
        try:
            for tier in tiers(inventory, ready):
                if self.job(job_id).state != "running":  # aborted between tiers
                    break
                self.store.record(job_id, *(replace(by_name[name], state="pushing") for name in tier))
                await self._push_tier(job, list(tier), inventory, by_name)
                if any(by_name[n].state == "needs-person" for n in tier):
                    break
        finally:
            self.checks.close_window(window)
        return self._settle(job_id)

    async def _prechecks(self, job: ChangeJob, pending: Sequence[str], inventory: Inventory,
                         by_name: dict[str, DeviceChange]) -> list[str]:
        if not pending:
            return []
        busy = self.store.busy_devices(excluding=job.id)
        problems = await self.checks.before(pending, inventory, job.id, busy)
        ready, refused = [], []
        for name in pending:
            found = problems.get(name, ())
            if found:
                refused.append(replace(by_name[name], state="precheck-failed", detail="; ".join(found)[:1000]))
                by_name[name] = refused[-1]
            else:
                ready.append(name)
        self.store.record(job.id, *refused)
        for change in refused:
            self.hub.publish(job.id, "device", {"device": change.device, "state": change.state,
                                                "detail": change.detail})
        return ready

    async def _push_tier(self, job: ChangeJob, tier: list[str], inventory: Inventory,
                         by_name: dict[str, DeviceChange]) -> None:
        try:
            with self._phase(job.id, "push", len(tier)):
                run = await self._ansible(job, tier)
        except Exception as exc:  # ansible-runner itself failed: every device of the tier says so
            run = WaveRun({n: Outcome(n, "failed", f"ansible-runner: {exc}") for n in tier}, -1, "error")
        passed = [n for n in tier if run.outcomes[n].state == "ok"]
        with self._phase(job.id, "post-checks", len(passed)):
            answers = dict(await self.checks.after(passed, inventory)) if passed else {}
        if job.kind == "ipv6":
            # only where the parent's end is dual-stacked (the devices that pinged it): others have no neighbour yet
            pings = self._job_host_vars(job, inventory, _job_devices(job))
            pinged = [n for n in passed if not answers.get(n) and pings.get(n, {}).get("yiwang_ping_parent")]
            with self._phase(job.id, "neighbours", len(pinged)):
                seen = await self.checks.parent_sees(pinged, inventory) if pinged else {}
            for name, problem in seen.items():
                if problem:
                    answers[name] = problem
        silent = {n: p for n, p in answers.items() if p}
        rolled: dict[str, Outcome] = {}
        if silent:
            rolled = await self._rollback_devices(job, {n: run.outcomes[n] for n in silent},
                                                  reason={n: f"after the change: {p}" for n, p in silent.items()})
        for name in tier:
            outcome = rolled.get(name) or run.outcomes[name]
            by_name[name] = replace(by_name[name], state=cast(DeviceState, outcome.state),
                                    detail=outcome.detail[:1000], commands=outcome.commands or by_name[name].commands,
                                    rollback=outcome.rollback or by_name[name].rollback)
        self.store.record(job.id, *(by_name[name] for name in tier))
        for name in tier:
            change = by_name[name]
            self.hub.publish(job.id, "device", {"device": name, "state": change.state, "detail": change.detail})
        if job.kind == "bandwidth":
            self._write_rates(job, [n for n, c in by_name.items() if c.state == "ok"])

    def _settle(self, job_id: str) -> ChangeJob:
        job = self.job(job_id)
        devices = self.store.devices(job_id)
        in_wave = [d for d in devices if d.wave == job.current_wave]
        if job.state == "running":
            if any(d.state == "needs-person" for d in in_wave):
                job = replace(job, state="stopped")
            elif all(d.state in SETTLED for d in in_wave):
                job = wave_finished(job, devices)
            self.store.save(job)
        counts = _count(d.state for d in in_wave)
        self.hub.publish(job_id, "wave-finished", {"wave": job.current_wave, "state": job.state, **counts})
        self.hub.publish(job_id, "job", {"state": job.state, "wave": job.current_wave})
        self._record(None, "change.wave-finished", f"job={job_id}", {"wave": job.current_wave, **counts},
                     job.state)
        return job

    def rollback_targets(self, job_id: str, identity: Identity, device: str | None = None) -> list[str]:
        """The devices a rollback of the job (or of one device) would put back; refused (and recorded) when the
        job is running, the caller may not, or nothing was changed."""
        job = self.job(job_id)
        try:
            if not identity.can(Permission.CHANGE_START):
                raise ChangeError("rolling back a change needs the engineer role", 403)
            if job.state == "running":
                raise ChangeError(f"job {job_id} is running: abort it first, then roll back")
            devices = self.store.devices(job_id)
            chosen = [d.device for d in devices if d.state == "ok" and d.rollback
                      and (device is None or d.device == device)]
            if device is not None and not chosen:
                known = any(d.device == device for d in devices)
                raise ChangeError(f"{device} has nothing of job {job_id} to roll back", 409 if known else 404)
            if not chosen:
                raise ChangeError(f"job {job_id} has no changed device to roll back")
        except ChangeError as exc:
            self._record(identity, "change.rollback", f"job={job_id}", {"device": device}, f"refused: {exc}")
            raise
        return chosen

    async def rollback(self, job_id: str, identity: Identity, device: str | None = None) -> dict[str, str]:
        """Puts back the changed devices of a job that is not running (or one of them): the rollback lines the
        change returned, typed and saved, then checked. Returns each device's new state."""
        job = self.job(job_id)
        names = set(self.rollback_targets(job_id, identity, device))
        chosen = [d for d in self.store.devices(job_id) if d.device in names]
        self.hub.bind(asyncio.get_running_loop())
        outcomes = await self._rollback_devices(job, {d.device: Outcome(d.device, "ok", "", d.commands, d.rollback)
                                                      for d in chosen},
                                                reason=dict.fromkeys(names, f"rollback asked by {identity.name}"))
        by_name = {d.device: d for d in chosen}
        for name, outcome in outcomes.items():
            change = replace(by_name[name], state=cast(DeviceState, outcome.state), detail=outcome.detail[:1000])
            self.store.record(job_id, change)
            self.hub.publish(job_id, "device", {"device": name, "state": change.state, "detail": change.detail})
        result = {n: o.state for n, o in outcomes.items()}
        self._record(identity, "change.rollback", f"job={job_id}", {"device": device, **_count(result.values())},
                     "ok" if all(s == "rolled-back" for s in result.values()) else "needs-person")
        return result

    def rollback_later(self, job_id: str, identity: Identity, device: str | None = None) -> None:
        self._background(f"rollback {job_id}", self.rollback(job_id, identity, device))

    def dry_run_later(self, job_id: str) -> None:
        self._background(f"dry run {job_id}", self.dry_run(job_id))

    def _background(self, name: str, work: Coroutine[Any, Any, Any]) -> None:
        async def quietly() -> None:
            try:
                await work
            except Exception:  # recorded on the job where it can be; the service goes on
                log.exception("change %s failed", name)

        task = asyncio.create_task(quietly(), name=name)
        self._tasks[name] = task

    async def _rollback_devices(self, job: ChangeJob, changed: Mapping[str, Outcome],
                                reason: Mapping[str, str]) -> dict[str, Outcome]:
        """The rollback playbook over `changed`: rolled-back when put back and answering again, else needs-person."""
        names = sorted(changed)
        extra = {n: {"yiwang_rollback_lines": list(changed[n].rollback)} for n in names}
        try:
            run = await self._ansible(job, names, playbook=ROLLBACK_PLAYBOOK, host_vars=extra)
        except Exception as exc:
            run = WaveRun({n: Outcome(n, "needs-person", f"ansible-runner: {exc}") for n in names}, -1, "error")
        inventory = self._inventory()
        back = [n for n in names if run.outcomes[n].state == "rolled-back"]
        answers = await self.checks.after(back, inventory) if back else {}
        found = {}
        for name in names:
            outcome = run.outcomes[name]
            state = outcome.state if outcome.state in ("rolled-back", "needs-person") else "needs-person"
            if state == "rolled-back" and answers.get(name):
                state = "needs-person"
            why = answers.get(name) or outcome.detail
            detail = f"{reason[name]}; " + (f"rolled back and checked again ({outcome.detail})"
                                            if state == "rolled-back" else f"ROLLBACK FAILED: {why}")
            found[name] = Outcome(name, state, detail, changed[name].commands, changed[name].rollback)
        return found

    def _write_rates(self, job: ChangeJob, done: Sequence[str]) -> None:
        from yiwang.change.bandwidth import read_bandwidth_plan, write_rates

        rates = read_bandwidth_plan(self.root / job.id / str(job.parameters["bandwidth_plan"]), self._inventory())
        for path in write_rates(rates, set(done), self.settings.inventory_dirs):
            log.info("change job %s: bandwidth written to %s", job.id, path)

    async def _ansible(self, job: ChangeJob, devices: Sequence[str], *, check: bool = False,
                       playbook: str | None = None,
                       host_vars: Mapping[str, Mapping[str, Any]] | None = None) -> WaveRun:
        inventory = self._inventory()
        hosts = await asyncio.to_thread(self._write_inventory, job, devices, inventory, host_vars or {})
        try:
            return await asyncio.to_thread(
                run_wave, self.playbooks, playbook or str(job.parameters["playbook"]), hosts, devices, check=check,
                on_event=lambda event: self._relay(job.id, event), forks=self.settings.change.forks,
                work_root=self.root / job.id)
        finally:
            hosts.unlink(missing_ok=True)

    @contextlib.contextmanager
    def _phase(self, job_id: str, phase: str, devices: int) -> Iterator[None]:
        """A `phase` event when a step of a wave ends: how long it took, for the operator watching a slow wave."""
        started = time.monotonic()
        try:
            yield
        finally:
            self.hub.publish(job_id, "phase", {"phase": phase, "devices": devices,
                                               "seconds": round(time.monotonic() - started, 1)})

    def _relay(self, job_id: str, event: Mapping[str, Any]) -> None:
        shown = ansible_event(event)
        if shown is not None:
            self.hub.publish_threadsafe(job_id, *shown)

    def _write_inventory(self, job: ChangeJob, devices: Sequence[str], inventory: Inventory,
                         host_vars: Mapping[str, Mapping[str, Any]]) -> Path:
        """The job's own Ansible inventory: its devices only, with the change's variables as host variables (never
        extravars, which ansible-runner keeps); credentials as references, readable by this user only."""
        from collectors.ssh.session import known_hosts_path

        exported = to_ansible(inventory, secrets_base=self.settings.state_dir,
                              known_hosts=lambda d: known_hosts_path(self.settings.state_dir / "ssh", d))
        every: dict[str, dict[str, Any]] = {}
        for group in exported["all"]["children"].values():
            for name, variables in (group.get("hosts") or {}).items():
                if variables:
                    every[name] = variables
        extra = self._job_host_vars(job, inventory, _job_devices(job))
        hosts = {}
        for name in devices:
            if name not in every:
                raise ChangeError(f"{name} is no longer in the inventory")
            hosts[name] = {**every[name], **extra.get(name, {}), **host_vars.get(name, {})}
        group_vars: dict[str, Any] = {"yiwang_job": job.id}
        if job.parameters.get("mgmt_prefix6"):
            group_vars["yiwang_mgmt_prefix6"] = job.parameters["mgmt_prefix6"]
        folder = self.root / job.id
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"hosts-{secrets.token_hex(4)}.yaml"
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            yaml.safe_dump({"all": {"hosts": hosts, "vars": group_vars}}, stream, sort_keys=True,
                           allow_unicode=True)
        return path

    def _job_host_vars(self, job: ChangeJob, inventory: Inventory, job_devices: set[str]) -> dict[str, dict[str, Any]]:
        if job.kind == "bandwidth":
            from yiwang.change.bandwidth import host_vars, read_bandwidth_plan

            return host_vars(read_bandwidth_plan(self.root / job.id / str(job.parameters["bandwidth_plan"]),
                                                 inventory))
        found: dict[str, dict[str, Any]] = {}
        plan = inventory.ipv6_plan
        stacked = self.store.changed_devices("ipv6", excluding=job.id)
        for name in job_devices:
            planned = ipv6_of(plan, name) if plan is not None else None
            parent = (planned or {}).get("parent_device")
            # A device pings its parent's end only when that end is dual-stacked: by this job (pushed in an earlier
            # tier or wave) or by an earlier IPv6 job. (An `address6` in the inventory says nothing of the planned
            # link address the ping goes to.)
            answers = parent is not None and (parent in job_devices or parent in stacked)
            found[name] = {"yiwang_ping_parent": answers}
        return found

    # --- resuming ------------------------------------------------------------------------------------------------

    async def resume(self) -> list[str]:
        """Runs the waves of running jobs that no live process runs: those of this host whose process is gone (a
        restart) at once, others when their lease is stale. Returns the jobs taken up."""
        taken = []
        for job_id in self._unowned():
            if job_id not in self._tasks or self._tasks[job_id].done():
                log.info("change job %s: resuming its wave", job_id)
                self._record(None, "change.resumed", f"job={job_id}", {"runner": self.runner}, "ok")
                self.launch(job_id)
                taken.append(job_id)
        return taken

    def _unowned(self) -> list[str]:
        found = self.store.orphans(LEASE_STALE_S)
        host = socket.gethostname()
        for job in self.store.jobs(["running"]):
            runner = self.store.runner_of(job.id)
            if runner and job.id not in found and runner != self.runner and runner.rpartition(":")[0] == host \
                    and not _alive(runner.rpartition(":")[2]):
                self.store.release(job.id, runner)
                found.append(job.id)
        return found

    async def watch(self, interval_s: float = 15.0) -> None:
        """`yiwang run`'s loop: take up the running jobs nobody runs, now and every `interval_s`."""
        self.hub.bind(asyncio.get_running_loop())
        while True:
            try:
                await self.resume()
            except Exception:
                log.exception("change jobs: looking for jobs to resume failed")
            await asyncio.sleep(interval_s)

    async def close(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)


def _job_devices(job: ChangeJob) -> set[str]:
    return {d for w in job.waves for d in w.devices}


def _alive(pid: str) -> bool:
    try:
        os.kill(int(pid), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


def ipv6_devices(inventory: Inventory, area: str) -> list[str]:
    """The devices the IPv6 change touches in `area`: those with planned addresses on their links."""
    plan = inventory.ipv6_plan
    if plan is None:
        raise ChangeError("the inventory has no IPv6 plan: run `yiwang change plan-ipv6 --prefix P` first", 422)
    inside = inventory.subtree(area)
    found = []
    for name, device in inventory.devices.items():
        if device.area in inside and device.ssh_credential is not None:
            planned = ipv6_of(plan, name)
            # the top of the tree (no uplink of its own: the province's PE) is not this change's: its playbook
            # checks start from the uplink
            if planned is not None and planned["interfaces"] and planned["uplink"] is not None:
                found.append(name)
    return sorted(found)


def render_diff(device: str, platform: str, outcome: Outcome) -> str:
    """One device's part of a job's diff: the lines the change types, in the device's own syntax."""
    if outcome.state != "ok":
        return f"# {device} ({platform}): no dry run: {outcome.detail}\n"
    if not outcome.commands:
        return f"# {device} ({platform}): already in place, nothing to type\n"
    lines = [f"# {device} ({platform}): {len(outcome.commands)} lines"]
    lines.extend(f"+ {line}" for line in outcome.commands)
    return "\n".join(lines) + "\n"


def county_of(inventory: Inventory, device: str) -> str:
    found = inventory.devices.get(device)
    if found is None:
        return "-"
    return next((a.id for a in inventory.path(found.area) if a.level == Level.COUNTY), found.area)


def _count(states: Iterable[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for state in states:
        counts[state] = counts.get(state, 0) + 1
    return dict(sorted(counts.items()))


class DefaultChecks:
    """yiwang.change.prechecks against the live devices and the database."""

    def __init__(self, settings: Settings, engine: Engine, archive: ConfigArchive | None = None) -> None:
        self.settings = settings
        self.engine = engine
        self.archive = archive  # the running service's (one writer of the git archive), or opened per check

    async def before(self, devices: Sequence[str], inventory: Inventory, job_id: str,
                     busy: Mapping[str, str]) -> dict[str, tuple[str, ...]]:
        from yiwang.change.prechecks import prechecks

        found = await prechecks(devices, settings=self.settings, inventory=inventory, engine=self.engine,
                                job_id=job_id, busy=busy, max_backup_age_s=self.settings.change.backup_max_age_s,
                                archive=self.archive)
        return {name: readiness.problems for name, readiness in found.items()}

    async def after(self, devices: Sequence[str], inventory: Inventory) -> dict[str, str]:
        from yiwang.change.prechecks import post_checks

        return await post_checks(devices, settings=self.settings, inventory=inventory)

    async def parent_sees(self, devices: Sequence[str], inventory: Inventory) -> dict[str, str]:
        from yiwang.change.neighbours import parent_sees

        return await parent_sees(devices, settings=self.settings, inventory=inventory)

    def open_window(self, job_id: str, devices: Sequence[str], created_by: str,
                    inventory: Inventory) -> int | None:
        from yiwang.change.prechecks import open_change_window

        # long enough for a county's wave; closed when the wave ends
        return open_change_window(self.engine, job_id, devices, ends_ns=time.time_ns() + 6 * 3600 * 10**9,
                                  created_by=created_by, inventory=inventory)

    def close_window(self, window: int | None) -> None:
        from yiwang.change.prechecks import close_change_window

        if window is not None:
            close_change_window(self.engine, window, time.time_ns())


__all__ = ["ACTIVE_JOB", "FINAL_JOB", "ChangeError", "ChangeService", "EventHub", "JobEvent"]
