"""Compliance runs kept in SQL, and what the reports ask of them: the latest results, the trend per day and what
changed between two runs.

A result is stored once for all the runs over which it stayed the same (tables in `yiwang.schema`): it holds from
`first_run` until the run `until_run` found it otherwise. A run writes only the results that changed, so the city's
daily run adds a few thousand rows, not 75k. The results of run R are the rows with first_run <= R and (until_run
NULL or > R). The decisions (which rows to close and add, what is newly failing or fixed, the last run of each day)
are pure functions beside the store.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, and_, delete, func, insert, or_, select, text, update
from sqlalchemy.exc import OperationalError

from yiwang.compliance.model import RuleResult, result_json
from yiwang.schema import compliance_results as results_t
from yiwang.schema import compliance_runs as runs_t

Key = tuple[str, str]  # (device, rule)
FIXED = ("pass", "not-applicable")  # a failure followed by one of these is fixed; by exempt or error it is not
_PG_LOCK = 0x79697763706C  # "yiwcpl": one run records at a time
SQLITE_WAIT_S = 600.0  # how long a run waits on SQLite for another's writes (the city's take 4-20 s)


class RunConflict(RuntimeError):
    """Another run held the database's write lock for longer than a run waits for it."""


@dataclass(frozen=True, slots=True)
class StoredResult:
    """One device x rule result as a run stored it."""

    device: str
    rule: str
    platform: str
    area: str
    area_path: tuple[str, ...]  # area ids from the top down to `area`
    status: str
    severity: str
    evidence: tuple[dict[str, Any], ...] = ()
    remediation: tuple[str, ...] = ()
    detail: str = ""
    exemption: dict[str, Any] | None = None

    @classmethod
    def of(cls, device: str, platform: str, area_path: Sequence[str], result: RuleResult) -> StoredResult:
        return cls(device, result.rule, platform, area_path[-1] if area_path else "", tuple(area_path),
                   result.status, result.severity, tuple(e.as_json() for e in result.evidence), result.remediation,
                   result.detail, result.exemption_json())

    @property
    def key(self) -> Key:
        return self.device, self.rule

    def signature(self) -> tuple[object, ...]:
        """What must be equal for a run's result to be the same stored row as the previous run's."""
        return (self.platform, self.area_path, self.status, self.severity, _json(self.evidence),
                _json(self.remediation), self.detail, _json(self.exemption))

    def as_json(self) -> dict[str, object]:
        """The issue's shape of one rule's result (as `RuleResult.as_json`)."""
        return result_json(self.rule, self.status, self.evidence, self.remediation, self.detail, self.severity,
                           self.exemption)


@dataclass(frozen=True, slots=True)
class RunInfo:
    id: int
    started_at: float  # epoch seconds
    finished_at: float
    trigger: str  # backup | manual
    devices: int
    rules: int
    failed: int  # device x rule results that fail
    changed: int  # results that differ from the previous run's
    pack_digest: str

    def as_json(self) -> dict[str, object]:
        return {"id": self.id, "started_at": self.started_at, "finished_at": self.finished_at,
                "trigger": self.trigger, "devices": self.devices, "rules": self.rules, "failed": self.failed,
                "changed": self.changed, "pack_digest": self.pack_digest}


@dataclass(frozen=True, slots=True)
class Changes:
    run: int
    previous: int | None  # None: the run is the first
    newly_failing: tuple[Key, ...]
    fixed: tuple[Key, ...]

    def as_json(self) -> dict[str, object]:
        return {"run": self.run, "previous": self.previous,
                "newly_failing": [{"device": d, "rule": r} for d, r in self.newly_failing],
                "fixed": [{"device": d, "rule": r} for d, r in self.fixed]}


@dataclass(frozen=True, slots=True)
class TrendPoint:
    day: date  # in this host's time zone
    run: int  # the day's last run
    rule: str
    failing: int  # devices failing the rule in that run (within the area asked)


# --- pure -----------------------------------------------------------------------------------------------------------

def diff(before: Mapping[Key, str], after: Mapping[Key, str], run: int, previous: int | None) -> Changes:
    """Statuses by (device, rule) of two runs. Newly failing: fails now, did not before (or was not checked).
    Fixed: failed before, passes or no longer applies now; a failure turned `exempt` or `error` is not fixed, and
    a device gone from the inventory is not either."""
    newly = sorted(k for k, s in after.items() if s == "fail" and before.get(k) != "fail")
    fixed = sorted(k for k, s in before.items() if s == "fail" and after.get(k) in FIXED)
    return Changes(run, previous, tuple(newly), tuple(fixed))


def reconcile(holding: Mapping[Key, tuple[int, tuple[object, ...]]],
              new: Mapping[Key, tuple[object, ...]]) -> tuple[list[int], list[Key]]:
    """`holding`: the rows still holding, {key: (row id, signature)}; `new`: this run's signatures. The rows to
    close (changed, or their device x rule no longer checked) and the keys to write."""
    close = [row for key, (row, signature) in holding.items() if new.get(key) != signature]
    write = [key for key, signature in new.items() if key not in holding or holding[key][1] != signature]
    return close, write


def last_of_each_day(runs: Iterable[tuple[int, float]]) -> list[tuple[date, int]]:
    """(day, run id) for the last run started on each day, oldest day first."""
    days: dict[date, tuple[float, int]] = {}
    for run, started in runs:
        day = datetime.fromtimestamp(started).date()
        if day not in days or (started, run) > days[day]:
            days[day] = (started, run)
    return [(day, days[day][1]) for day in sorted(days)]


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


# --- the store ------------------------------------------------------------------------------------------------------

class ComplianceHistory:
    """Synchronous and short, like `yiwang.store.Store`; async callers use `asyncio.to_thread`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def record_run(self, started_at: float, finished_at: float, trigger: str, pack_digest: str, rules: int,
                   found: Iterable[StoredResult]) -> RunInfo:
        """One run over the whole archive: every device x rule result of it. Results of devices or rules it does
        not hold stop holding (a partial run would end the others': runs are always whole)."""
        new = {r.key: r for r in found}
        with self._writing() as conn:
            holding = {(row.device, row.rule): (row.id, _row_result(row).signature())
                       for row in conn.execute(select(results_t).where(results_t.c.until_run.is_(None)))}
            close, write = reconcile(holding, {k: r.signature() for k, r in new.items()})
            failed = sum(r.status == "fail" for r in new.values())
            inserted = conn.execute(insert(runs_t).values(
                started_at=started_at, finished_at=finished_at, trigger=trigger, devices=len({d for d, _ in new}),
                rules=rules, failed=failed, changed=len(write), pack_digest=pack_digest)).inserted_primary_key
            assert inserted is not None
            run = int(inserted[0])
            for start in range(0, len(close), 500):
                conn.execute(update(results_t).where(results_t.c.id.in_(close[start:start + 500]))
                             .values(until_run=run))
            if write:
                conn.execute(insert(results_t), [_row_values(new[k], run) for k in write])
        return RunInfo(run, started_at, finished_at, trigger, len({d for d, _ in new}), rules, failed, len(write),
                       pack_digest)

    @contextmanager
    def _writing(self) -> Iterator[Connection]:
        """A transaction of a run's writes, one run at a time. Two runs at once (the scheduled one and an
        operator's, or two commands) must not both read the rows still holding and then both extend them: on
        PostgreSQL they queue on an advisory lock; on SQLite the transaction takes the write lock before it reads
        (BEGIN IMMEDIATE) and waits up to SQLITE_WAIT_S for it. (Python's sqlite3 opens a transaction only at the
        first write, so the read was outside it: the second run wrote its whole result again beside the first's.)"""
        with self.engine.connect() as conn:
            if conn.dialect.name != "sqlite":
                with conn.begin():
                    if conn.dialect.name == "postgresql":
                        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK})
                    yield conn
                return
            before = conn.exec_driver_sql("PRAGMA busy_timeout").scalar()
            conn.exec_driver_sql(f"PRAGMA busy_timeout = {int(SQLITE_WAIT_S * 1000)}")
            try:
                try:
                    conn.exec_driver_sql("BEGIN IMMEDIATE")
                except OperationalError as exc:
                    raise RunConflict(f"another compliance run kept the database locked for more than "
                                      f"{SQLITE_WAIT_S:g} s; this run's results were not stored "
                                      f"({exc.orig})") from None
                try:
                    yield conn
                except BaseException:
                    conn.rollback()
                    raise
                conn.commit()
            finally:
                conn.exec_driver_sql(f"PRAGMA busy_timeout = {int(before or 0)}")
                conn.commit()

    def runs(self, limit: int = 100) -> list[RunInfo]:
        """Newest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(runs_t).order_by(runs_t.c.id.desc()).limit(limit)).all()
        return [_run(r) for r in rows]

    def latest_run(self) -> RunInfo | None:
        found = self.runs(1)
        return found[0] if found else None

    def results(self, run: int | None = None, *, area: str | None = None, device: str | None = None,
                rule: str | None = None, status: str | None = None) -> list[StoredResult]:
        """The results of `run` (default: the latest), by device then rule id; `area` takes its whole subtree."""
        if run is None:
            latest = self.latest_run()
            if latest is None:
                return []
            run = latest.id
        where = [_holds_at(run)]
        if area is not None:
            where.append(results_t.c.area_path.contains(f"/{area}/", autoescape=True))
        if device is not None:
            where.append(results_t.c.device == device)
        if rule is not None:
            where.append(results_t.c.rule == rule)
        if status is not None:
            where.append(results_t.c.status == status)
        with self.engine.connect() as conn:
            rows = conn.execute(select(results_t).where(and_(*where))
                                .order_by(results_t.c.device, results_t.c.id)).all()
        return [_row_result(r) for r in rows]

    def changes(self, run: int | None = None, previous: int | None = None) -> Changes | None:
        """What changed from `previous` (default: the run before `run`) to `run` (default: the latest); None when
        there is no run."""
        if run is None:
            latest = self.latest_run()
            if latest is None:
                return None
            run = latest.id
        if previous is None:
            with self.engine.connect() as conn:
                previous = conn.execute(select(func.max(runs_t.c.id)).where(runs_t.c.id < run)).scalar()
        before = self._statuses(previous) if previous is not None else {}
        return diff(before, self._statuses(run), run, previous)

    def trend(self, area: str | None = None, rule: str | None = None, days: int = 30,
              now: float | None = None) -> list[TrendPoint]:
        """Per day (its last run) and rule: how many devices in `area`'s subtree failed, over the last `days`
        days. A rule with no failing device that day has a point of 0 when some other rule failed."""
        since = (now if now is not None else datetime.now().timestamp()) - days * 86400.0
        with self.engine.connect() as conn:
            runs = conn.execute(select(runs_t.c.id, runs_t.c.started_at)
                                .where(runs_t.c.started_at >= since)).all()
            points: list[TrendPoint] = []
            for day, run in last_of_each_day((r.id, r.started_at) for r in runs):
                where = [_holds_at(run), results_t.c.status == "fail"]
                if area is not None:
                    where.append(results_t.c.area_path.contains(f"/{area}/", autoescape=True))
                if rule is not None:
                    where.append(results_t.c.rule == rule)
                failing = func.count(results_t.c.device.distinct())
                counts: dict[str, int] = dict(conn.execute(select(results_t.c.rule, failing).where(and_(*where))
                                                           .group_by(results_t.c.rule)).all())
                points.extend(TrendPoint(day, run, r, int(n)) for r, n in sorted(counts.items()))
        return points

    def prune(self, keep_days: float, now: float | None = None) -> int:
        """Drops the runs that started more than `keep_days` ago and the results that stopped holding by the oldest
        run kept; a result still holding is kept whatever its age. The number of runs dropped."""
        cutoff = (now if now is not None else datetime.now().timestamp()) - keep_days * 86400.0
        with self._writing() as conn:
            dropped = conn.execute(delete(runs_t).where(runs_t.c.started_at < cutoff)).rowcount
            oldest = conn.execute(select(func.min(runs_t.c.id))).scalar()
            if oldest is None:
                conn.execute(delete(results_t).where(results_t.c.until_run.is_not(None)))
            else:
                conn.execute(delete(results_t).where(results_t.c.until_run <= oldest))
        return int(dropped or 0)

    def _statuses(self, run: int) -> dict[Key, str]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(results_t.c.device, results_t.c.rule, results_t.c.status)
                                .where(_holds_at(run))).all()
        return {(r.device, r.rule): r.status for r in rows}


def _holds_at(run: int) -> ColumnElement[bool]:
    return and_(results_t.c.first_run <= run, or_(results_t.c.until_run.is_(None), results_t.c.until_run > run))


def _row_values(result: StoredResult, run: int) -> dict[str, object]:
    return {"device": result.device, "rule": result.rule, "platform": result.platform, "area": result.area,
            "area_path": "/" + "".join(f"{a}/" for a in result.area_path), "status": result.status,
            "severity": result.severity, "evidence": _json(list(result.evidence)),
            "remediation": _json(list(result.remediation)), "detail": result.detail,
            "exemption": None if result.exemption is None else _json(result.exemption),
            "first_run": run, "until_run": None}


def _row_result(row: Any) -> StoredResult:
    return StoredResult(row.device, row.rule, row.platform, row.area, tuple(p for p in row.area_path.split("/") if p),
                        row.status, row.severity, tuple(json.loads(row.evidence)),
                        tuple(json.loads(row.remediation)), row.detail,
                        None if row.exemption is None else json.loads(row.exemption))


def _run(row: Any) -> RunInfo:
    return RunInfo(row.id, row.started_at, row.finished_at, row.trigger, row.devices, row.rules, row.failed,
                   row.changed, row.pack_digest)
