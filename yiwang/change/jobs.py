"""A change job's life, as data: planned, then wave by wave, each wave after the first released by an approver who
did not start the job, until done, stopped (a device needs a person) or aborted.

The decisions are pure functions over a `ChangeJob` and its `DeviceChange`s; `ChangeStore` keeps both in SQL so a
job survives a restart of `yiwang run` and resumes at the wave it was in. A device whose outcome is known is never
pushed again; a device that was being pushed when the process stopped is pushed again, which sends nothing it
already has (the config module lays the change over the running configuration: a second push is empty).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Engine, insert, or_, select, update

from yiwang.auth.roles import Identity, Permission
from yiwang.change.waves import Wave
from yiwang.schema import change_devices, change_jobs

JobState = Literal["planning", "invalid", "planned", "running", "awaiting-approval", "done", "stopped", "aborted"]
DeviceState = Literal["pending", "pushing", "ok", "rolled-back", "needs-person", "precheck-failed", "failed"]
FINAL_JOB: frozenset[str] = frozenset({"invalid", "done", "stopped", "aborted"})
# A job holding its devices: no other job may push them, and their maintenance is this job's.
ACTIVE_JOB: frozenset[str] = frozenset({"running", "awaiting-approval"})
# Outcomes after which a device is not pushed again by this job.
SETTLED: frozenset[str] = frozenset({"ok", "rolled-back", "needs-person", "precheck-failed", "failed"})


class ChangeError(ValueError):
    """A request the job's state or the caller's roles do not allow; `status` is the HTTP answer that fits."""

    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class DeviceChange:
    device: str
    wave: int
    state: DeviceState = "pending"
    diff: str = ""  # the dry run's, at planning
    commands: tuple[str, ...] = ()
    rollback: tuple[str, ...] = ()
    detail: str = ""


@dataclass(frozen=True, slots=True)
class ChangeJob:
    id: str
    kind: str  # ipv6 | bandwidth
    area: str
    created_by: str
    created_at: datetime
    waves: tuple[Wave, ...]
    state: JobState = "planned"
    current_wave: int = 0
    started_by: str | None = None
    parameters: Mapping[str, Any] = field(default_factory=dict)
    approvals: tuple[tuple[int, str], ...] = ()  # (wave released, by whom)
    error: str = ""  # why planning failed (state invalid)


# --- decisions ------------------------------------------------------------------------------------------------


def start(job: ChangeJob, identity: Identity) -> ChangeJob:
    """The first wave runs at once: starting is the engineer's release of the canary."""
    if not identity.can(Permission.CHANGE_START):
        raise ChangeError("starting a change job needs the engineer role", 403)
    if job.state != "planned":
        raise ChangeError(f"job {job.id} is {job.state}, not planned")
    if not job.waves:
        raise ChangeError(f"job {job.id} has no device to change")
    return replace(job, state="running", current_wave=0, started_by=identity.name)


def approve(job: ChangeJob, identity: Identity) -> ChangeJob:
    """Releases the next wave; four eyes: never by the person who started the job."""
    if not identity.can(Permission.CHANGE_APPROVE):
        raise ChangeError("releasing a wave needs the approver role", 403)
    if identity.name == job.started_by:
        raise ChangeError(f"{identity.name} started job {job.id} and may not approve its waves (four eyes)", 403)
    if job.state != "awaiting-approval":
        raise ChangeError(f"job {job.id} is {job.state}: no wave waits for approval")
    released = job.current_wave + 1
    return replace(job, state="running", current_wave=released, approvals=(*job.approvals, (released, identity.name)))


def abort(job: ChangeJob, identity: Identity) -> ChangeJob:
    if not (identity.can(Permission.CHANGE_START) or identity.can(Permission.CHANGE_APPROVE)):
        raise ChangeError("aborting a change job needs the engineer or approver role", 403)
    if job.state in FINAL_JOB:
        raise ChangeError(f"job {job.id} is {job.state} already")
    return replace(job, state="aborted")


def wave_finished(job: ChangeJob, devices: Iterable[DeviceChange]) -> ChangeJob:
    """After the current wave: stop when a device needs a person, wait for an approver when waves remain."""
    in_wave = [d for d in devices if d.wave == job.current_wave]
    unsettled = [d.device for d in in_wave if d.state not in SETTLED]
    if unsettled:
        raise ChangeError(f"wave {job.current_wave} of job {job.id} has devices without an outcome: "
                          f"{', '.join(unsettled[:5])}")
    if any(d.state == "needs-person" for d in in_wave):
        return replace(job, state="stopped")
    if job.current_wave + 1 < len(job.waves):
        return replace(job, state="awaiting-approval")
    return replace(job, state="done")


def to_push(job: ChangeJob, devices: Iterable[DeviceChange]) -> list[str]:
    """The devices of the current wave still to push: after a restart, those whose outcome is not known."""
    if job.state != "running":
        return []
    return sorted(d.device for d in devices if d.wave == job.current_wave and d.state not in SETTLED)


def progress(devices: Iterable[DeviceChange], county_of: Mapping[str, str]) -> dict[str, dict[str, int]]:
    """Per county: how many devices are done, failed, rolled back and pending."""
    counts: dict[str, dict[str, int]] = {}
    for change in devices:
        row = counts.setdefault(county_of.get(change.device, "-"),
                                {"done": 0, "failed": 0, "rolled_back": 0, "pending": 0})
        if change.state == "ok":
            row["done"] += 1
        elif change.state == "rolled-back":
            row["rolled_back"] += 1
        elif change.state in ("needs-person", "precheck-failed", "failed"):
            row["failed"] += 1
        else:
            row["pending"] += 1
    return dict(sorted(counts.items()))


# --- the SQL store --------------------------------------------------------------------------------------------


class ChangeStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create(self, job: ChangeJob, devices: Sequence[DeviceChange]) -> None:
        with self.engine.begin() as conn:
            conn.execute(insert(change_jobs).values(**_job_row(job)))
            if devices:
                conn.execute(insert(change_devices), [_device_row(job.id, d) for d in devices])

    def save(self, job: ChangeJob) -> None:
        with self.engine.begin() as conn:
            row = _job_row(job)
            del row["id"]
            conn.execute(update(change_jobs).where(change_jobs.c.id == job.id).values(**row))

    def job(self, job_id: str) -> ChangeJob | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(change_jobs).where(change_jobs.c.id == job_id)).first()
        return None if row is None else _job(row._mapping)

    def jobs(self, states: Iterable[str] | None = None) -> list[ChangeJob]:
        query = select(change_jobs).order_by(change_jobs.c.created_at.desc())
        if states is not None:
            query = query.where(change_jobs.c.state.in_(list(states)))
        with self.engine.connect() as conn:
            return [_job(row._mapping) for row in conn.execute(query)]

    def devices(self, job_id: str) -> list[DeviceChange]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(change_devices).where(change_devices.c.job_id == job_id)
                                .order_by(change_devices.c.wave, change_devices.c.device))
            return [_device(row._mapping) for row in rows]

    def record(self, job_id: str, *changes: DeviceChange) -> None:
        """The devices' new states, in one transaction (a tier's outcomes are known together)."""
        with self.engine.begin() as conn:
            for change in changes:
                row = _device_row(job_id, change)
                conn.execute(update(change_devices).where(change_devices.c.job_id == job_id,
                                                          change_devices.c.device == change.device)
                             .values(**{k: v for k, v in row.items() if k not in ("job_id", "device")}))

    def busy_devices(self, excluding: str | None = None) -> dict[str, str]:
        """Devices in a job that is not over, with that job's id (a device is in one running job at a time)."""
        query = (select(change_devices.c.device, change_devices.c.job_id)
                 .join(change_jobs, change_jobs.c.id == change_devices.c.job_id)
                 .where(change_jobs.c.state.in_(list(ACTIVE_JOB))))
        if excluding is not None:
            query = query.where(change_jobs.c.id != excluding)
        with self.engine.connect() as conn:
            return {row.device: row.job_id for row in conn.execute(query)}

    def changed_devices(self, kind: str, excluding: str | None = None) -> set[str]:
        """Devices a job of this kind changed and checked (state ok), and that no later job rolled back."""
        query = (select(change_devices.c.device, change_devices.c.state, change_devices.c.updated_at)
                 .join(change_jobs, change_jobs.c.id == change_devices.c.job_id)
                 .where(change_jobs.c.kind == kind, change_devices.c.state.in_(["ok", "rolled-back"]))
                 .order_by(change_devices.c.updated_at))
        if excluding is not None:
            query = query.where(change_jobs.c.id != excluding)
        last: dict[str, str] = {}
        with self.engine.connect() as conn:
            for row in conn.execute(query):
                last[row.device] = row.state
        return {device for device, state in last.items() if state == "ok"}

    # --- the runner lease: one process runs a job's wave; one that died (no word for `stale_s`) is replaced ---

    def claim(self, job_id: str, runner: str, stale_s: float) -> bool:
        now = _now()
        with self.engine.begin() as conn:
            done = conn.execute(update(change_jobs).where(
                change_jobs.c.id == job_id,
                or_(change_jobs.c.runner.is_(None), change_jobs.c.runner == runner,
                    change_jobs.c.runner_seen < now - timedelta(seconds=stale_s)))
                .values(runner=runner, runner_seen=now))
            return bool(done.rowcount == 1)

    def renew(self, job_id: str, runner: str) -> bool:
        with self.engine.begin() as conn:
            done = conn.execute(update(change_jobs).where(change_jobs.c.id == job_id, change_jobs.c.runner == runner)
                                .values(runner_seen=_now()))
            return bool(done.rowcount == 1)

    def release(self, job_id: str, runner: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(change_jobs).where(change_jobs.c.id == job_id, change_jobs.c.runner == runner)
                         .values(runner=None, runner_seen=None))

    def runner_of(self, job_id: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(select(change_jobs.c.runner).where(change_jobs.c.id == job_id)).scalar()

    def orphans(self, stale_s: float) -> list[str]:
        """Running jobs nobody runs: their runner stopped (a restart) or never claimed them."""
        cutoff = _now() - timedelta(seconds=stale_s)
        query = select(change_jobs.c.id).where(change_jobs.c.state == "running", or_(
            change_jobs.c.runner.is_(None), change_jobs.c.runner_seen < cutoff)).order_by(change_jobs.c.created_at)
        with self.engine.connect() as conn:
            return [row.id for row in conn.execute(query)]


def _now() -> datetime:
    return datetime.now(UTC)


def _job_row(job: ChangeJob) -> dict[str, Any]:
    return {"id": job.id, "kind": job.kind, "area": job.area, "state": job.state, "created_by": job.created_by,
            "created_at": job.created_at, "started_by": job.started_by, "current_wave": job.current_wave,
            "waves": json.dumps([{"number": w.number, "name": w.name, "devices": list(w.devices)} for w in job.waves]),
            "parameters": json.dumps(dict(job.parameters), sort_keys=True),
            "approvals": json.dumps([list(a) for a in job.approvals]), "error": job.error, "updated_at": _now()}


def _job(row: Mapping[Any, Any]) -> ChangeJob:
    waves = tuple(Wave(w["number"], w["name"], tuple(w["devices"])) for w in json.loads(row["waves"]))
    created = row["created_at"]
    return ChangeJob(row["id"], row["kind"], row["area"], row["created_by"],
                     created if created.tzinfo else created.replace(tzinfo=UTC), waves, row["state"],
                     row["current_wave"], row["started_by"], json.loads(row["parameters"]),
                     tuple((int(n), str(by)) for n, by in json.loads(row["approvals"])), row["error"] or "")


def _device_row(job_id: str, change: DeviceChange) -> dict[str, Any]:
    return {"job_id": job_id, "device": change.device, "wave": change.wave, "state": change.state,
            "diff": change.diff, "commands": json.dumps(list(change.commands)),
            "rollback": json.dumps(list(change.rollback)), "detail": change.detail, "updated_at": _now()}


def _device(row: Mapping[Any, Any]) -> DeviceChange:
    return DeviceChange(row["device"], row["wave"], row["state"], row["diff"], tuple(json.loads(row["commands"])),
                        tuple(json.loads(row["rollback"])), row["detail"])
