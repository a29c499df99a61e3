"""A change job's life: start, waves, four-eyes approval, a stop when a device needs a person, abort, and a
resume after a restart that pushes no settled device again; kept in a real SQLite and PostgreSQL database across
store objects."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from yiwang.auth.roles import Identity, parse_roles
from yiwang.change.jobs import (
    ChangeError,
    ChangeJob,
    ChangeStore,
    DeviceChange,
    abort,
    approve,
    progress,
    start,
    to_push,
    wave_finished,
)
from yiwang.change.waves import Wave
from yiwang.store import open_store

ENGINEER = Identity("wang", parse_roles(["engineer"]), "user")
APPROVER = Identity("zhao", parse_roles(["approver"]), "user")
BOTH = Identity("wang", parse_roles(["engineer", "approver"]), "user")  # the starter, holding both roles
VIEWER = Identity("li", parse_roles(["viewer"]), "user")
WAVES = (Wave(0, "canary", ("v1", "t1")), Wave(1, "hb.hg.a", ("v2", "v3")), Wave(2, "hb.hg.b", ("v4",)))


def planned() -> tuple[ChangeJob, list[DeviceChange]]:
    job = ChangeJob("j1", "ipv6", "hb.hg", "wang", datetime(2026, 11, 30, tzinfo=UTC), WAVES,
                    parameters={"prefix": "2001:db8::/48"})
    devices = [DeviceChange(d, w.number, diff=f"+ ipv6 on {d}", commands=("ipv6",), rollback=("undo ipv6",))
               for w in WAVES for d in w.devices]
    return job, devices


def settle(devices: list[DeviceChange], wave: int, state: str = "ok") -> list[DeviceChange]:
    return [replace(d, state=state) if d.wave == wave else d for d in devices]  # type: ignore[arg-type]


def test_waves_run_one_after_another_each_released_by_another_person() -> None:
    job, devices = planned()
    with pytest.raises(ChangeError) as viewer:
        start(job, VIEWER)
    assert viewer.value.status == 403
    job = start(job, BOTH)
    assert (job.state, job.current_wave, job.started_by) == ("running", 0, "wang")
    assert to_push(job, devices) == ["t1", "v1"]
    job = wave_finished(job, settle(devices, 0))
    assert job.state == "awaiting-approval"
    with pytest.raises(ChangeError, match="four eyes") as own:
        approve(job, BOTH)  # the starter holds the approver role too, and still may not
    assert own.value.status == 403
    with pytest.raises(ChangeError) as engineer:
        approve(job, ENGINEER)
    assert engineer.value.status == 403
    job = approve(job, APPROVER)
    assert (job.state, job.current_wave, job.approvals) == ("running", 1, ((1, "zhao"),))
    with pytest.raises(ChangeError, match="no wave waits"):
        approve(job, APPROVER)
    devices = settle(settle(devices, 0), 1)
    job = approve(wave_finished(job, devices), APPROVER)
    devices = settle(devices, 2, "rolled-back")  # a rolled-back device is an outcome, not a stop
    job = wave_finished(job, devices)
    assert job.state == "done"
    with pytest.raises(ChangeError, match="done already"):
        abort(job, ENGINEER)


def test_a_device_that_needs_a_person_stops_the_job() -> None:
    job, devices = planned()
    job = start(job, ENGINEER)
    devices = [replace(d, state="needs-person" if d.device == "t1" else "ok") if d.wave == 0 else d
               for d in devices]
    assert wave_finished(job, devices).state == "stopped"


def test_a_wave_is_not_over_while_a_device_has_no_outcome() -> None:
    job, devices = planned()
    job = start(job, ENGINEER)
    with pytest.raises(ChangeError, match="without an outcome: t1"):
        wave_finished(job, [replace(d, state="ok") if d.device == "v1" else d for d in devices])


def test_the_job_and_its_devices_survive_a_restart(database_url: str) -> None:
    url = database_url  # SQLite and PostgreSQL (cores sharing one database)
    store = open_store(url)
    changes = ChangeStore(store.engine)
    job, devices = planned()
    changes.create(job, devices)
    job = start(job, ENGINEER)
    changes.save(job)
    changes.record(job.id, replace(devices[0], state="ok", detail="ping ipv6 to the parent: 0% loss"))
    changes.record(job.id, replace(devices[1], state="pushing"))  # the process stops here
    store.close()

    reopened = open_store(url)
    again = ChangeStore(reopened.engine)  # a new `yiwang run`
    resumed = again.job("j1")
    assert resumed is not None and (resumed.state, resumed.current_wave, resumed.started_by) == ("running", 0, "wang")
    assert resumed.waves == WAVES and resumed.parameters == {"prefix": "2001:db8::/48"}
    kept = again.devices("j1")
    assert [(d.device, d.state) for d in kept if d.wave == 0] == [("t1", "pushing"), ("v1", "ok")]
    assert to_push(resumed, kept) == ["t1"]  # v1 is settled: never pushed twice
    assert next(d for d in kept if d.device == "v1").detail.startswith("ping ipv6")
    assert next(d for d in kept if d.device == "v4").rollback == ("undo ipv6",)
    assert again.busy_devices() == dict.fromkeys({"v1", "t1", "v2", "v3", "v4"}, "j1")
    assert again.busy_devices(excluding="j1") == {}
    assert [j.id for j in again.jobs(["running"])] == ["j1"] and again.jobs(["done"]) == []
    assert again.job("nope") is None
    reopened.close()


def test_progress_per_county() -> None:
    _, devices = planned()
    devices = [replace(d, state={"v1": "ok", "t1": "rolled-back", "v2": "needs-person"}.get(d.device, d.state))
               for d in devices]
    county = {"v1": "hb.hg.a", "t1": "hb.hg.a", "v2": "hb.hg.a", "v3": "hb.hg.a", "v4": "hb.hg.b"}
    assert progress(devices, county) == {
        "hb.hg.a": {"done": 1, "failed": 1, "rolled_back": 1, "pending": 1},
        "hb.hg.b": {"done": 0, "failed": 0, "rolled_back": 0, "pending": 1}}
