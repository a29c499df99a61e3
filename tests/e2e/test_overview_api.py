"""The overview API against a real `yiwang run` on the small lab: a browser's session cookie, the city at a glance,
an area's devices, a device page with a hostile sysName as data, and the live stream telling of a village made
unreachable in the lab, over a real HTTP connection."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from lab import lab_clear, lab_fault, lab_inventory_dir
from lab.city import HOSTILE_ALIAS, HOSTILE_DEVICE, HOSTILE_SYS_NAME
from tests.e2e.conftest import free_tcp_port, start_run, stop_run, wait_for_api, write_config

POLL_S = 3  # write_config's interval


@pytest.fixture(scope="module")
def run(lab_state: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    work = tmp_path_factory.mktemp("overview")
    port = free_tcp_port()
    state = work / "state"
    config = write_config(work / "yiwang.yaml", state, inventory=[str(lab_inventory_dir(lab_state))],
                          database_url=f"sqlite:///{work / 'y.sqlite'}", api={"port": port},
                          audit={"path": str(work / "audit.jsonl")}, ssh={"enabled": False})
    log = work / "yiwang.log"
    process = start_run(config, log, env={"XDG_STATE_HOME": str(work / "x")})
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_api(url, process, log)
        yield url, state
    finally:
        stop_run(process)
    assert "Traceback" not in log.read_text(), log.read_text()[-3000:]


@pytest.fixture(scope="module")
def browser(run: tuple[str, Path]) -> Iterator[httpx.Client]:
    url, state = run
    password = (state / "initial-admin-password").read_text().strip()
    with httpx.Client(base_url=url, timeout=30) as client:
        answer = client.post("/api/auth/login", json={"name": "admin", "password": password})
        assert answer.status_code == 200, answer.text
        assert "yiwang_session" in client.cookies
        yield client


def polled(client: httpx.Client) -> dict:  # type: ignore[type-arg]
    """/api/overview once the first cycles are in (nothing unknown at the top)."""
    deadline = time.monotonic() + 60
    while True:
        found = client.get("/api/overview").json()
        top = next(a for a in found["areas"] if a["id"] == found["root"])
        if top["unknown"] == 0 or time.monotonic() > deadline:
            return found
        time.sleep(1)


def test_not_logged_in_is_refused(run: tuple[str, Path]) -> None:
    url, _ = run
    for path in ("/api/overview", "/api/overview/panels", "/api/overview/devices?area=hb.hg",
                 f"/api/overview/devices/{HOSTILE_DEVICE}", "/api/overview/stream?follow=false"):
        assert httpx.get(url + path).status_code == 401, path


def test_overview_devices_and_panels(browser: httpx.Client) -> None:
    found = polled(browser)
    assert found["root"] == "hb.hg"
    areas = {a["id"]: a for a in found["areas"]}
    ids = [a["id"] for a in found["areas"]]
    assert all(ids.index(a["parent"]) < ids.index(a["id"]) for a in found["areas"] if a["parent"])
    counties = [a for a in found["areas"] if a["level"] == "county"]
    assert [c["id"] for c in counties] == ["hb.hg.huangzhou"]  # the small profile: one county
    city = areas["hb.hg"]
    assert city["devices"] == city["up"] + city["down"] + city["unknown"] > 0
    assert set(found["alerts"]) == {"firing", "pending", "outages", "top"}
    devices = browser.get("/api/overview/devices", params={"area": "hb.hg.huangzhou"}).json()
    assert devices["area"] == "hb.hg.huangzhou" and len(devices["devices"]) == areas["hb.hg.huangzhou"]["devices"]
    assert {d["status"] for d in devices["devices"]} <= {"up", "down", "unknown"}
    panels = browser.get("/api/overview/panels").json()
    assert panels["rollouts"] == [] and panels["capacity"] == {"hot": []} and panels["carriers"] == {
        "month": None, "computed_at": None, "carriers": [], "problem": None}  # no metric history configured
    assert browser.get("/api/overview/devices", params={"area": "nowhere"}).status_code == 404
    assert browser.get("/api/overview/devices/no-such-device").status_code == 404


def test_hostile_strings_come_back_as_data(browser: httpx.Client) -> None:
    polled(browser)
    answer = browser.get(f"/api/overview/devices/{HOSTILE_DEVICE}")
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/json"
    page = answer.json()
    assert page["sysname"] == HOSTILE_SYS_NAME  # verbatim, not escaped, not rendered
    assert HOSTILE_ALIAS in [i["alias"] for i in page["interfaces"]]
    assert page["interfaces"] and all(i["history"] == {"in": [], "out": []} for i in page["interfaces"])
    assert page["area"][-1]["id"] == next(a for a in page["area"] if a["level"] == "village")["id"]
    assert page["errors"] == [] and page["configs"] == []  # no history configured, no archive: empty, no error


def test_a_village_made_unreachable_is_streamed(browser: httpx.Client, lab_state: Path) -> None:
    polled(browser)
    devices = browser.get("/api/overview/devices", params={"area": "hb.hg.huangzhou"}).json()["devices"]
    victim = next(d for d in devices if d["area"].count(".") == 4 and d["name"] != HOSTILE_DEVICE)
    village = victim["area"]
    dark = {d["name"] for d in devices if d["area"] == village}
    got: dict[str, list] = {"devices": [], "areas": []}  # type: ignore[type-arg]
    try:
        with browser.stream("GET", "/api/overview/stream", timeout=httpx.Timeout(30, read=20)) as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            lines = stream.iter_lines()
            assert next(lines) == "retry: 3000"
            lab_fault(lab_state, "unreachable", village)
            faulted = time.monotonic()
            kind = None
            for line in lines:
                if line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: ") and kind in got:
                    got[kind].extend(json.loads(line[6:]))
                down = {d["name"] for d in got["devices"] if d["status"] == "down"}
                row = next((a for a in got["areas"] if a["id"] == village and a["status"] == "down"), None)
                if down >= dark and row is not None:
                    break
                assert time.monotonic() - faulted < 4 * POLL_S + 10, got
            took = time.monotonic() - faulted
            row = next(a for a in got["areas"] if a["id"] == village and a["status"] == "down")
    finally:
        lab_clear(lab_state)
    assert row is not None and row["down"] == len(dark)
    assert all(d["area"] == village for d in got["devices"] if d["name"] in dark)
    print(f"village {village} down on the stream {took:.1f} s after the fault (poll interval {POLL_S} s)")


def test_a_reconnect_gets_every_area_first(browser: httpx.Client) -> None:
    found = polled(browser)
    answer = browser.get("/api/overview/stream", params={"follow": "false"}, headers={"Last-Event-ID": "12"})
    blocks = answer.text.split("\n\n")
    assert blocks[0] == "retry: 3000"
    event = dict(line.split(": ", 1) for line in blocks[1].splitlines())
    assert event["event"] == "areas"
    assert [a["id"] for a in json.loads(event["data"])] == [a["id"] for a in found["areas"]]
    fresh = browser.get("/api/overview/stream", params={"follow": "false"})
    assert fresh.text == "retry: 3000\n\n"  # a first connection is sent changes only
