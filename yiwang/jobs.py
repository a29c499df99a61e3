"""Long work started from the API (backups now, checks): a job that answers at once and runs on. Change jobs, which
wait for approvals and outlive the process, are `yiwang.change`'s.

A request that backs up a county or pushes a wave must not hold the client until it ends: the API answers
`202 Accepted` with the job's URL, and the job is read there. Each step of a job (started, each approval, finished)
goes to `on_step`, which the runtime points at the audit trail.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from yiwang.auth.roles import Identity

log = logging.getLogger("yiwang.jobs")

JobState = Literal["running", "awaiting-approval", "done", "failed"]


class JobError(ValueError):
    """A request about a job that cannot be granted; `status` is the HTTP answer that fits it."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass(slots=True)
class Job:
    id: str
    kind: str
    target: str
    started_by: str
    created_at: float
    parameters: dict[str, Any]
    state: JobState = "running"
    finished_at: float | None = None
    summary: dict[str, int] = field(default_factory=dict)
    results: list[dict[str, Any]] = field(default_factory=list)
    error: str = ""

    def view(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "target": self.target, "state": self.state,
                "started_by": self.started_by, "created_at": self.created_at, "finished_at": self.finished_at,
                "parameters": self.parameters, "summary": self.summary, "results": self.results,
                "error": self.error}


Work = Callable[[Job], Awaitable[list[dict[str, Any]]]]
StepSink = Callable[[Job, str, Identity | None, Mapping[str, Any]], Awaitable[None] | None]


class JobRegistry:
    """The jobs of this process, newest last, the oldest finished ones forgotten beyond `keep`."""

    def __init__(self, on_step: StepSink | None = None, keep: int = 500,
                 clock: Callable[[], float] = time.time) -> None:
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._tasks: set[asyncio.Task[None]] = set()
        self._on_step = on_step
        self._keep = keep
        self._clock = clock

    def start(self, kind: str, target: str, identity: Identity, parameters: Mapping[str, Any], work: Work) -> Job:
        job = Job(secrets.token_hex(8), kind, target, identity.name, self._clock(), dict(parameters))
        self._jobs[job.id] = job
        self._forget_old()
        task = asyncio.create_task(self._run(job, identity, work), name=f"job {job.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return job

    async def _run(self, job: Job, identity: Identity, work: Work) -> None:
        await self._step(job, "started", identity, job.parameters)
        try:
            job.results = await work(job)
        except Exception as exc:  # a job's failure is its result, never the service's
            log.warning("job %s (%s %s) failed: %s", job.id, job.kind, job.target, exc)
            job.state, job.error = "failed", str(exc) or type(exc).__name__
        else:
            failed = sum(1 for r in job.results if not r.get("ok", True))
            job.summary = {"total": len(job.results), "ok": len(job.results) - failed, "failed": failed}
            job.state = "done" if failed == 0 else "failed"
        job.finished_at = self._clock()
        await self._step(job, "finished", None, {"state": job.state, **job.summary})

    async def _step(self, job: Job, step: str, identity: Identity | None, detail: Mapping[str, Any]) -> None:
        if self._on_step is None:
            return
        try:
            done = self._on_step(job, step, identity, detail)
            if done is not None:
                await done
        except Exception:  # the record of a step failing must not stop the job; it is logged where it failed
            log.exception("job %s: recording step %r failed", job.id, step)

    def get(self, job_id: str) -> Job:
        job = self._jobs.get(job_id)
        if job is None:
            raise JobError(f"no job {job_id!r}", 404)
        return job

    def list(self, limit: int = 100) -> list[Job]:
        return list(reversed(self._jobs.values()))[:limit]

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _forget_old(self) -> None:
        finished = [jid for jid, j in self._jobs.items() if j.state in ("done", "failed")]
        for jid in finished[: max(0, len(self._jobs) - self._keep)]:
            del self._jobs[jid]
