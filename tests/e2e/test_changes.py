"""A change job from plan to approval to rollback through the API of a real `yiwang run`, against the small lab's
SSH devices, with ansible-runner doing the pushes: the dry run's diff, the event stream, four eyes on each wave,
a restart in the middle of a wave that resumes it, a rollback of one device, and the audit trail of it all."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from lab import lab_down, lab_up
from tests.e2e.conftest import api_client, api_token, free_tcp_port, start_run, stop_run, wait_for_api, write_config

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
TOWNSHIP = "hb.hg.huangzhou.t02"
MGMT6 = "2001:db8:ffff::/64"


class City:
    def __init__(self, state: Path, config: Path, url: str) -> None:
        self.state, self.config, self.url = state, config, url
        self.log = state / "run.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = start_run(self.config, self.log)
        wait_for_api(self.url, self.process, self.log)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def cli(self, *args: str, user: str = "tester") -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "yiwang", *args, "-c", str(self.config)], capture_output=True,
                              text=True, timeout=600, env={**os.environ, "PYTHONPATH": str(ROOT), "LOGNAME": user,
                                                           "COLUMNS": "200"})


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Iterator[City]:
    state = tmp_path_factory.mktemp("change-city")
    lab_up(state, profile="small", seed=2026, port=random.randint(20000, 29999))
    port = free_tcp_port()
    config = write_config(state / "yiwang.yaml", state, api={"port": port}, change={"mgmt_prefix6": MGMT6},
                          ssh={"interval_s": 3600}, archive={"interval_s": 86400})
    found = City(state, config, f"http://127.0.0.1:{port}")
    planned = found.cli("change", "plan-ipv6", "--prefix", "2001:db8:100::/40")
    assert planned.returncode == 0, planned.stderr
    found.start()
    try:
        yield found
    finally:
        if found.process is not None and found.process.poll() is None:
            stop_run(found.process)
        lab_down(state)


def wait_for(client: httpx.Client, job: str, states: set[str], timeout: float = 300) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        view = client.get(f"/api/changes/{job}").json()
        if view["state"] in states:
            return view
        assert time.monotonic() < deadline, view
        time.sleep(0.5)


class Stream(threading.Thread):
    """The job's events as a browser's EventSource would read them, until the stream ends."""

    def __init__(self, url: str, token: str) -> None:
        super().__init__(daemon=True)
        self.url, self.token = url, token
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.raw = ""
        self.reconnects = 0

    def run(self) -> None:
        last = ""
        for _ in range(20):  # reconnects as EventSource does when the server goes away, with Last-Event-ID
            try:
                last = self.read(last)
                return
            except httpx.HTTPError:
                self.reconnects += 1
                time.sleep(1)

    def read(self, last: str) -> str:
        headers = {"Authorization": f"Bearer {self.token}", **({"Last-Event-ID": last} if last else {})}
        with httpx.stream("GET", self.url, headers=headers, timeout=httpx.Timeout(10, read=120)) as answer:
            assert answer.headers["content-type"].startswith("text/event-stream")
            kind = ""
            for line in answer.iter_lines():
                self.raw += line + "\n"
                if line.startswith("id: "):
                    last = line[4:]
                elif line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: "):
                    self.events.append((kind, json.loads(line[6:])))
        return last


def test_a_change_job_from_plan_to_rollback(city: City) -> None:
    engineer = api_token(city.config, "engineer", "approver", name="eng-li")  # may approve, not their own job
    approver = api_token(city.config, "approver", name="app-wang")
    viewer = api_token(city.config, "viewer", name="view-zhao")
    eng, app, view = (api_client(city.url, t, timeout=60) for t in (engineer, approver, viewer))

    # bad input is refused before anything is planned
    assert eng.post("/api/changes", json={"kind": "ipv6", "area": "hb.nowhere"}).status_code == 422
    assert view.post("/api/changes", json={"kind": "ipv6", "area": TOWNSHIP}).status_code == 403

    answer = eng.post("/api/changes", json={"kind": "ipv6", "area": TOWNSHIP, "wave_size": 4, "canary": False})
    assert answer.status_code == 202, answer.text
    job = answer.json()["job"]
    planned = wait_for(eng, job, {"planned", "invalid"})
    assert planned["state"] == "planned", planned["error"]
    assert len(planned["waves"]) >= 2
    devices = [d["device"] for d in planned["devices"]]

    diff = app.get(f"/api/changes/{job}/diff")  # the approver reads what they will release
    assert diff.status_code == 200
    assert "ipv6 address" in diff.text.lower() and all(d in diff.text for d in devices)
    assert view.get(f"/api/changes/{job}/diff").status_code == 403

    stream = Stream(f"{city.url}/api/changes/{job}/events", viewer)
    stream.start()
    started = eng.post(f"/api/changes/{job}/start")
    assert started.status_code == 200, started.text
    first = wait_for(eng, job, {"awaiting-approval", "stopped", "done"})
    assert first["state"] == "awaiting-approval", first["devices"]
    assert first["waves"][0]["states"] == {"ok": first["waves"][0]["devices"]}, first["devices"]

    # four eyes: the one who started it may not release the next wave
    own = eng.post(f"/api/changes/{job}/approve", json={})
    assert own.status_code == 403 and "four eyes" in own.json()["detail"]
    released = app.post(f"/api/changes/{job}/approve", json={"comment": "canary fine"})
    assert released.status_code == 200, released.text

    # the service dies while the second wave runs; started again, it resumes the wave
    time.sleep(2)
    city.kill()
    after_kill = json.loads(city.cli("change", "status", job, "--json").stdout)
    assert after_kill["state"] == "running" and after_kill["current_wave"] == 1
    city.start()
    second = wait_for(eng, job, {"awaiting-approval", "done", "stopped"})
    assert second["state"] in ("awaiting-approval", "done"), second["devices"]
    assert second["waves"][1]["states"] == {"ok": second["waves"][1]["devices"]}, second["devices"]
    assert second["progress"][next(iter(second["progress"]))]["done"] == sum(
        w["devices"] for w in second["waves"][:2])

    # a rollback of one changed device puts it back, and it answers
    target = next(d["device"] for d in second["devices"] if d["state"] == "ok")
    assert view.post(f"/api/changes/{job}/rollback", json={"device": target}).status_code == 403
    assert eng.post(f"/api/changes/{job}/rollback", json={"device": target}).status_code == 202
    deadline = time.monotonic() + 120
    while (row := next(d for d in eng.get(f"/api/changes/{job}").json()["devices"] if d["device"] == target))[
            "state"] == "ok":
        assert time.monotonic() < deadline
        time.sleep(0.5)
    assert row["state"] == "rolled-back", row

    aborted = eng.post(f"/api/changes/{job}/abort", json={"reason": "enough for the test"})
    assert aborted.status_code == 200 and aborted.json()["state"] == "aborted"
    stream.join(timeout=60)

    # the stream: each device's outcome, Ansible's tasks per host, the end; nothing secret
    assert stream.reconnects >= 1  # the kill cut it; it came back and read on
    seqs = [int(line[4:]) for line in stream.raw.splitlines() if line.startswith("id: ")]
    assert seqs == sorted(set(seqs)), "an event came twice or out of order across the restart"
    kinds = {kind for kind, _ in stream.events}
    assert {"wave-started", "device", "ansible", "wave-finished", "job", "end"} <= kinds, kinds
    outcomes = {e["device"]: e["state"] for kind, e in stream.events if kind == "device"}
    assert set(outcomes) >= set(devices[: first["waves"][0]["devices"]])
    assert any(e.get("host") in devices and e.get("task") for kind, e in stream.events if kind == "ansible")
    password = lab_password(city.state)
    assert password not in stream.raw and password not in city.log.read_text()
    # nothing of Ansible's is left behind: no job inventory, no private data folder with its artifacts
    assert [p.name for p in (city.state / "changes" / job).iterdir()] == []

    # the audit trail holds each person's action and each wave's steps
    trail = [json.loads(line) for line in (city.state / "audit" / "audit.jsonl").read_text().splitlines()]
    actions = [(r["action"], r["identity"], r["outcome"]) for r in trail if r["action"].startswith("change.")]
    assert ("change.plan", "eng-li", "ok") in actions
    assert ("change.start", "eng-li", "ok") in actions
    assert any(a == "change.approve" and who == "eng-li" and outcome.startswith("refused")
               for a, who, outcome in actions)
    assert ("change.approve", "app-wang", "ok") in actions
    assert any(a == "change.resumed" for a, _, _ in actions)
    assert ("change.abort", "eng-li", "ok") in actions
    verified = city.cli("audit", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr


def lab_password(state: Path) -> str:
    credentials = yaml.safe_load((state / "inventory" / "credentials.yaml").read_text())["credentials"]
    ssh = next(c for c in credentials if c["kind"] == "ssh")
    return Path(ssh["password"]["file"]).read_text().strip()


def test_the_command_line_runs_a_job_with_four_eyes(city: City) -> None:
    area = "hb.hg.huangzhou.t03"
    bad_plan = city.state / "rates.csv"
    bad_plan.write_text("link,mbps\nno-such-router,200\n")
    refused = city.cli("change", "plan", "bandwidth", "--area", area, "--plan", str(bad_plan))
    assert refused.returncode == 2 and "no-such-router" in refused.stderr, refused.stderr

    planned = city.cli("change", "plan", "ipv6", "--area", area, "--wave-size", "12", "--waves", "county",
                       user="li")
    assert planned.returncode == 0, planned.stdout + planned.stderr
    job = planned.stdout.split("change job ")[1].split(":")[0].strip()
    assert "已规划 planned" in planned.stdout

    started = city.cli("change", "start", job, user="li")
    assert started.returncode == 0, started.stdout + started.stderr
    assert "待审批 awaiting-approval" in started.stdout and "按县进度 progress by county" in started.stdout
    own = city.cli("change", "approve", job, user="li")
    assert own.returncode == 1 and "four eyes" in own.stderr
    released = city.cli("change", "approve", job, "--comment", "ok", user="wang")
    assert released.returncode == 0, released.stdout + released.stderr
    status = json.loads(city.cli("change", "status", job, "--json").stdout)
    assert status["approvals"] == [{"wave": 1, "by": "wang"}]
    assert status["waves"][1]["states"] == {"ok": status["waves"][1]["devices"]}, status["devices"]


def test_a_platform_without_template_or_a_broken_template_stops_the_plan(city: City, tmp_path: Path) -> None:
    import asyncio
    import shutil

    from yiwang.auth.roles import Identity, Role
    from yiwang.change.jobs import ChangeError
    from yiwang.change.service import ChangeService, inventory_loader
    from yiwang.config import load_settings
    from yiwang.store import open_store

    playbooks = tmp_path / "playbooks"
    shutil.copytree(ROOT / "playbooks", playbooks, symlinks=True, ignore=shutil.ignore_patterns("collections"))
    (playbooks / "collections").symlink_to(ROOT / "playbooks" / "collections")
    settings = load_settings(city.config)
    store = open_store(settings.database)
    records: list[tuple[str, str]] = []
    service = ChangeService(settings, store.engine, inventory_loader(settings), playbooks=playbooks,
                            record=lambda who, action, target, parameters, outcome: records.append((action, outcome)))
    engineer = Identity("li", frozenset({Role.ENGINEER}), "user")
    area = "hb.hg.huangzhou.t04"

    (playbooks / "templates" / "ipv6" / "cisco_ios.j2").unlink()
    with pytest.raises(ChangeError, match="no ipv6 template for the platform.*cisco_ios") as refused:
        service.prepare("ipv6", area, engineer)
    assert refused.value.status == 422

    shutil.copy(ROOT / "playbooks" / "templates" / "ipv6" / "cisco_ios.j2", playbooks / "templates" / "ipv6")
    broken = playbooks / "templates" / "ipv6" / "huawei_vrp.j2"
    broken.write_text(broken.read_text() + "\n{{ yiwang_no_such_variable.address }}\n")
    job, _ = service.prepare("ipv6", area, engineer, wave_size=100, canary=False)
    done = asyncio.run(service.dry_run(job.id))
    assert done.state == "invalid" and "yiwang_no_such_variable" in done.error, done.error
    with pytest.raises(ChangeError, match="not planned"):
        service.start(job.id, engineer)
    assert ("change.plan", "ok") in records and any(a == "change.start" and o.startswith("refused")
                                                    for a, o in records)
