"""Two cores (active/standby) on one PostgreSQL and one Redis, two pollers, the small lab, all separate processes.

In file order, on one set-up: the leader killed -9 mid-incident (the standby takes over, re-reads the alert state:
no second notification, one resolve); a poller drained by command (it exits, the other holds everything from the
next slot, no slot missed, nothing polled twice); the cluster in the API and on /metrics; Redis killed under the
leader (it steps down within the lease TTL). Intervals 4 s, lease TTL 6 s."""

from __future__ import annotations

import asyncio
import json
import math
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
import yaml

from lab import lab_clear, lab_fault, lab_inventory_dir
from lab.peers import free_port, recorder
from tests.cluster.observe import snmp_polls, wait_until
from tests.cluster.redis_server import RedisServer
from tests.e2e.conftest import free_tcp_port, immediate_rules, start_run, stop_run, wait_for_api
from tests.store.postgres import Cluster

COUNTY = "hb.hg.huangzhou"
INTERVAL_S = 4
TTL_S = 6


@dataclass
class Running:
    config: Path
    apis: dict[str, str]
    processes: dict[str, subprocess.Popen[bytes]]
    logs: dict[str, Path]
    webhook: Any
    redis: RedisServer
    devices: set[str]
    figures: dict[str, float] = field(default_factory=dict)


def _config(path: Path, state_dir: Path, lab_state: Path, database: str, redis: RedisServer, api_port: int,
            webhook_port: int, rules: Path) -> Path:
    path.write_text(yaml.safe_dump({
        "state_dir": str(state_dir), "inventory": [str(lab_inventory_dir(lab_state))],
        "database_url": database, "api": {"port": api_port}, "auth": {"enabled": False},
        "ssh": {"enabled": False}, "archive": {"enabled": False},
        "poll": {"interval_s": INTERVAL_S, "icmp_interval_s": INTERVAL_S, "timeout_s": 1, "retries": 1,
                 "icmp_count": 1, "workers": 1},
        "alerts": {"rules": [str(rules)],
                   "notifiers": [{"name": "noc", "type": "webhook", "url": f"http://127.0.0.1:{webhook_port}/hook"}]},
        "cluster": {"url": redis.url, "lease_ttl_s": TTL_S}}))
    return path




def _cluster(api: str) -> dict[str, Any]:
    answer: dict[str, Any] = httpx.get(f"{api}/api/cluster", timeout=5).json()["cluster"]
    return answer


@pytest.fixture(scope="module")
def running(lab_state: Path, tmp_path_factory: pytest.TempPathFactory, redis: RedisServer,
            postgres: Cluster) -> Iterator[Running]:
    root = tmp_path_factory.mktemp("corefail")
    # device_unreachable held three slots, as the shipped 2 minutes of 60 s slots: see test_roles._config
    immediate_rules(root / "rules.yaml", held={"device_unreachable": f"{3 * INTERVAL_S}s"})
    database = postgres.new_database()
    webhook_port = free_port()
    configs: dict[str, Path] = {}
    apis: dict[str, str] = {}
    for name in ("core-1", "core-2"):
        # Each core its own state folder (its notification outbox), as on its own machine.
        state = root / name
        state.mkdir()
        port = free_tcp_port()
        apis[name] = f"http://127.0.0.1:{port}"
        configs[name] = _config(root / f"{name}.yaml", state, lab_state, database, redis, port, webhook_port,
                                root / "rules.yaml")
    pollers = _config(root / "pollers.yaml", lab_state, lab_state, database, redis, free_tcp_port(), webhook_port,
                      root / "rules.yaml")
    devices = {d["name"] for d in
               yaml.safe_load((lab_inventory_dir(lab_state) / "devices.yaml").read_text())["devices"]}
    logs = {name: root / f"{name}.log" for name in ("core-1", "core-2", "p1", "p2")}
    processes: dict[str, subprocess.Popen[bytes]] = {}
    with recorder(webhook_port) as webhook:
        try:
            processes["core-1"] = start_run(configs["core-1"], logs["core-1"], "--role", "core", "--member", "core-1")
            wait_for_api(apis["core-1"], processes["core-1"], logs["core-1"])
            wait_until(lambda: _cluster(apis["core-1"])["core"]["leader"], 30, "core-1 to lead")
            processes["core-2"] = start_run(configs["core-2"], logs["core-2"], "--role", "core", "--member", "core-2")
            for name in ("p1", "p2"):
                processes[name] = start_run(pollers, logs[name], "--role", "poller", "--member", name)
            wait_for_api(apis["core-2"], processes["core-2"], logs["core-2"])
            yield Running(pollers, apis, processes, logs, webhook, redis, devices)
        finally:
            lab_clear(lab_state)
            for process in processes.values():
                if process.poll() is None:
                    stop_run(process)


def test_the_standby_takes_over_and_neither_notifies_again_nor_forgets_the_resolve(
        running: Running, lab_state: Path) -> None:
    api1, api2 = running.apis["core-1"], running.apis["core-2"]
    n = len(running.devices)
    assert _cluster(api2)["core"]["leader"] is False  # the standby waits
    wait_until(lambda: httpx.get(f"{api1}/api/areas").json()[0]["devices"]["up"] == n, 90, f"all {n} devices up")
    assert running.webhook.bodies == []
    lab_fault(lab_state, "unreachable", COUNTY)
    try:
        wait_until(lambda: any(b["rule"] == "area_outage" for b in running.webhook.bodies), 75, "the area outage")
        fired = [(b["kind"], b["rule"], b["labels"]["area"]) for b in running.webhook.bodies]
        assert fired == [("firing", "area_outage", COUNTY)]

        killed_at = time.monotonic()
        running.processes["core-1"].send_signal(signal.SIGKILL)
        running.processes["core-1"].wait(10)
        wait_until(lambda: _cluster(api2)["core"]["leader"], 3 * TTL_S, "core-2 to be elected", every=0.1)
        running.figures["takeover_s"] = time.monotonic() - killed_at
        print(f"takeover_s={running.figures['takeover_s']:.2f}")
        # The leader's lock expires after the TTL; the standby tries every 0.5 s, then re-reads the alert state.
        assert running.figures["takeover_s"] <= TTL_S + 2
        # The state it took over: the outage firing, as core-1 left it in PostgreSQL.
        wait_until(lambda: any(a["rule"] == "area_outage" and a["status"] == "firing"
                          for a in httpx.get(f"{api2}/api/alerts").json()), 3 * INTERVAL_S, "the outage on core-2")
        time.sleep(3 * INTERVAL_S)  # three cycles evaluated by core-2 with the county still dark: nothing to send
        assert [(b["kind"], b["rule"]) for b in running.webhook.bodies] == [("firing", "area_outage")]
    finally:
        lab_clear(lab_state)  # the county back even when this test fails: the next tests need it
    wait_until(lambda: any(b["kind"] == "resolved" for b in running.webhook.bodies), 60, "the resolve from core-2")
    time.sleep(2 * INTERVAL_S)
    # The county's outage: one firing (core-1), one resolve (core-2). (What else may be sent while the county comes
    # back is the lab's recovery, not the failover's: a village agent slower than its neighbours.)
    assert [(b["kind"], b["rule"]) for b in running.webhook.bodies if b["labels"].get("area") == COUNTY] == [
        ("firing", "area_outage"), ("resolved", "area_outage")]
    assert "Traceback" not in running.logs["core-2"].read_text()


def test_a_drained_poller_exits_and_the_other_polls_everything_without_a_gap(running: Running) -> None:
    drained_slot = math.floor(time.time() / INTERVAL_S)
    done = subprocess.run([sys.executable, "-m", "yiwang", "cluster", "drain", "p2", "-c", str(running.config)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    p2 = running.processes["p2"]
    assert p2.wait(timeout=4 * TTL_S) == 0, running.logs["p2"].read_text()[-2000:]
    exited_slot = math.floor(time.time() / INTERVAL_S)
    api = running.apis["core-2"]
    wait_until(lambda: [(m["name"], m["devices"]) for m in _cluster(api)["members"]] == [("p1", len(running.devices))],
          3 * TTL_S, "p1 holding every device")
    time.sleep(3 * INTERVAL_S)
    last_whole = math.floor(time.time() / INTERVAL_S) - 2  # the slot before is still being published
    polls = asyncio.run(snmp_polls(running.redis.url))
    by_slot: dict[tuple[str, int], list[str]] = {}
    for device, poller, slot in polls:
        by_slot.setdefault((device, slot), []).append(poller)
    twice = {k: v for k, v in by_slot.items() if len(v) > 1}
    assert not twice, list(twice.items())[:5]
    # From the slot of the drain to the last whole slot, every device once (both pollers' shares, then p1's).
    missed = [(d, s) for s in range(drained_slot, last_whole + 1) for d in sorted(running.devices)
              if (d, s) not in by_slot]
    assert not missed, (len(missed), drained_slot, exited_slot, last_whole, missed[:10])
    assert {p for (_, s), ps in by_slot.items() if s > exited_slot for p in ps} == {"p1"}
    running.figures["drain_slots"] = exited_slot - drained_slot


def test_the_cluster_in_the_api_and_on_metrics(running: Running) -> None:
    api = running.apis["core-2"]
    answer = _cluster(api)
    done = subprocess.run([sys.executable, "-m", "yiwang", "cluster", "status", "--json", "-c", str(running.config)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    cli = json.loads(done.stdout)
    # The same data (a snapshot at most a refresh old; the lease and lag move, the rest holds still here)
    assert (answer["group"], answer["epoch"], answer["leader"]) == (cli["group"], cli["epoch"], cli["leader"])
    assert answer["group"] == "default"
    (member,) = answer["members"]
    townships = len(json.loads(asyncio.run(_hget(running.redis.url, "yiwang:cluster:default:shares", "p1"))))
    assert (member["name"], member["devices"], member["townships"], member["draining"]) == (
        "p1", len(running.devices), townships, False)
    assert 0 < member["lease_remaining_s"] <= TTL_S and member["lag_slots"] in (0, 1)
    assert answer["core"]["member"] == "core-2" and answer["core"]["leader"] is True
    assert answer["core"]["elections"] == 1
    assert answer["stream"]["pending"] >= 0 and answer["stream"]["lag"] >= 0
    assert answer["stream"]["length"] > 0

    text = httpx.get(f"{api}/metrics").text
    found = {m.group(1): float(m.group(2)) for m in re.finditer(r"^(yiwang_cluster_\w+\{[^}]*\}) (\S+)$", text, re.M)}
    group = 'group="default"'
    assert found[f"yiwang_cluster_members{{{group}}}"] == 1
    assert found[f"yiwang_cluster_epoch{{{group}}}"] >= answer["epoch"]
    assert found[f'yiwang_cluster_member_devices{{{group},member="p1"}}'] == len(running.devices)
    assert 0 < found[f'yiwang_cluster_member_lease_seconds{{{group},member="p1"}}'] <= TTL_S
    assert found[f'yiwang_cluster_member_lag_slots{{{group},member="p1"}}'] in (0, 1)
    assert f"yiwang_cluster_stream_pending{{{group}}}" in found


def test_a_leader_that_loses_redis_steps_down_within_the_lease_ttl(running: Running) -> None:
    api = running.apis["core-2"]
    before = _cluster(api)["core"]
    assert before["leader"] is True
    running.redis.kill()
    lost_at = time.monotonic()
    wait_until(lambda: _cluster(api)["core"]["leader"] is False, 2 * TTL_S, "core-2 to step down", every=0.1)
    running.figures["step_down_s"] = time.monotonic() - lost_at
    print(f"step_down_s={running.figures['step_down_s']:.2f}")
    assert running.figures["step_down_s"] <= TTL_S
    # Back (empty, as after a restart): it is elected again and reads the state once more.
    running.redis.start()
    wait_until(lambda: _cluster(api)["core"]["leader"], 4 * TTL_S, "core-2 to lead again", every=0.2)
    # once more than before (before: 1 as a rule, more when a loaded machine delayed a heartbeat past the fence)
    assert _cluster(api)["core"]["elections"] == before["elections"] + 1




async def _hget(url: str, key: str, name: str) -> str:
    client = aioredis.Redis.from_url(url, decode_responses=True)
    try:
        return str(await client.hget(key, name))
    finally:
        await client.aclose()


