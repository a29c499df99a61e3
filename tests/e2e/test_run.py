"""`yiwang run` end to end: the small lab polled, the API, Prometheus scraping /metrics, InfluxDB writes into
VictoriaMetrics through an outage, and SIGTERM that loses nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from lab import lab_inventory_dir
from lab.city import HOSTILE_DEVICE, HOSTILE_SYS_NAME
from tests.e2e.conftest import api_client, api_token, free_tcp_port, write_config
from tests.sinks.servers import VictoriaMetrics, start_prometheus, start_victoria_metrics


@pytest.fixture
def victoria(tmp_path: Path) -> Iterator[VictoriaMetrics]:
    # InfluxDB treats a point with the same series and timestamp as one point; VictoriaMetrics keeps both copies
    # unless told to deduplicate. It also drops in-flight writes when stopped, so a write it stored may be
    # reported failed and sent again: this makes it answer as InfluxDB would. Lost points still show.
    server = start_victoria_metrics(tmp_path, extra_args=["-dedup.minScrapeInterval=1ms"])
    try:
        yield server
    finally:
        server.stop()


def _wait(condition: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = condition()
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            last = exc
        else:
            if last:
                return last
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


def _cycles(log: Path) -> int:
    return log.read_text().count("snmp cycle:")


def test_yiwang_run_end_to_end(lab_state: Path, tmp_path: Path, victoria: VictoriaMetrics) -> None:
    api_port = free_tcp_port()
    config = write_config(tmp_path / "yiwang.yaml", lab_state, database_url=f"sqlite:///{tmp_path / 'y.sqlite'}",
                          api={"port": api_port}, poll={"workers": 2},
                          influx={"url": victoria.influx_url, "org": "bureau", "bucket": "extranet"})
    log = tmp_path / "yiwang.log"
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "xdg")}
    token = api_token(config)
    token_file = tmp_path / "prometheus.token"
    token_file.write_text(api_token(config, "viewer", name="prometheus"))
    with open(log, "wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "yiwang", "run", "-c", str(config)], stdout=out,
                                   stderr=subprocess.STDOUT, env=env)
    api = f"http://127.0.0.1:{api_port}"
    client = api_client(api, token)
    devices = len(yaml.safe_load((lab_inventory_dir(lab_state) / "devices.yaml").read_text())["devices"])
    try:
        areas = _wait(lambda: [a for a in client.get("/api/areas").json() if a["status"] != "unknown"], 60,
                      "the first cycle")
        province = areas[0]
        assert province["level"] == "province" and province["devices"]["total"] == devices
        _wait(lambda: client.get("/api/areas").json()[0]["devices"]["up"] == devices, 30, "every device up")
        county = client.get("/api/areas", params={"root": "hb.hg", "depth": 1}).json()[0]["children"][0]
        assert county["level"] == "county" and county["status"] == "ok"

        # health reaches the SQL store at the end of each cycle, a little after the samples
        device = _wait(lambda: (d := client.get(f"/api/devices/{HOSTILE_DEVICE}").json())["metrics"].get(
            "device_info") and len(d["health"]) == 2 and d, 60, "the first SNMP cycle")
        assert device["status"] == "up"
        assert device["metrics"]["device_info"][0]["tags"]["sys_name"] == HOSTILE_SYS_NAME
        assert {h["collector"] for h in device["health"]} == {"snmp", "icmp"}
        assert client.get("/api/devices/no-such-device").status_code == 404
        assert "/api/areas" in client.get("/openapi.json").json()["paths"]
        # a healthy lab: the alert engine runs every cycle and has nothing to say
        assert client.get("/api/alerts").json() == []
        assert client.get("/api/alerts/history").json() == []
        window = client.post("/api/maintenance", json={
            "area": "hb.hg.huangzhou", "starts": "2030-01-01T22:00:00+08:00", "ends": "2030-01-02T02:00:00+08:00",
            "comment": "<b>core swap</b> {{7*7}}"})
        assert window.status_code == 201, window.text
        listed = client.get("/api/silences").json()
        assert [(w["kind"], w["area"], w["comment"]) for w in listed] == [
            ("maintenance", "hb.hg.huangzhou", "<b>core swap</b> {{7*7}}")]
        assert client.delete(f"/api/silences/{window.json()['id']}").json()["ended"] is True
        assert client.get("/api/silences").json() == []
        bad = client.post("/api/silences", json={"area": "hb.nowhere", "duration_s": 60})
        assert bad.status_code == 422 and "no area 'hb.nowhere'" in bad.text
        # times the store cannot hold are refused, not a 500 from the database
        for late, words in (({"area": "hb", "duration_s": 1.7976931348623157e308}, "less than or equal"),
                            ({"area": "hb", "ends": "9999-01-01T00:00:00Z"}, "2262-04-11"),
                            ({"area": "hb", "starts": "0001-01-01T00:00:00Z", "duration_s": 60}, "2262-04-11"),
                            ({"area": "hb"}, "give ends or duration_s")):
            refused = client.post("/api/silences", json=late)
            assert refused.status_code == 422 and words in refused.text, refused.text
        assert client.post("/api/alerts/0123456789abcdef/ack", json={}).status_code == 404

        exposition = client.get("/metrics").content
        check = subprocess.run(["promtool", "check", "metrics"], input=exposition, capture_output=True)
        assert check.returncode == 0, check.stdout + check.stderr
        assert b"<script>alert(1)</script>$(reboot);rm -rf / \\n{{7*7}}" in exposition

        township = next(a for a in _all_areas(client) if a["level"] == "township")
        shard = client.get(f"/metrics/areas/{township['id']}").text
        # split on \n only: the exposition escapes newlines, but a sysDescr's \r may stand in a label as it is
        shard_devices = {line.split('device="')[1].split('"')[0] for line in shard.split("\n") if 'device="' in line}
        strays = [line for line in shard.split("\n")
                  if line and not line.startswith("#") and f'township="{township["name"]}"' not in line]
        assert shard_devices and not strays, strays[:3]
        assert len(shard) < len(exposition) / 3

        prometheus = start_prometheus(tmp_path, [f"127.0.0.1:{api_port}"], scrape_interval="2s",
                                      bearer_token_file=token_file)
        try:
            found = prometheus.wait_for('yiwang_interface_in_octets_total{county="黄州区"}', lambda r: len(r) > 50)
            assert {"province", "city", "county", "township", "village", "device", "interface"} <= set(
                next(r for r in found if "village" in r["metric"])["metric"])
            info = prometheus.wait_for(f'yiwang_device_info{{device="{HOSTILE_DEVICE}"}}', lambda r: len(r) == 1)
            assert info[0]["metric"]["sys_name"] == HOSTILE_SYS_NAME
        finally:
            prometheus.stop()

        # outage: the database goes away for a few cycles and comes back
        _wait(lambda: victoria.count('cycle_devices{collector="snmp"}') >= 1, 30, "the first points in the database")
        victoria.stop()
        before = _cycles(log)
        _wait(lambda: _cycles(log) >= before + 3, 60, "three cycles during the outage")
        victoria.start()
        after = _cycles(log)
        _wait(lambda: _cycles(log) >= after + 2, 60, "two cycles after the outage")
    finally:
        client.close()
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=60)
    text = log.read_text()
    assert code == 0, text[-3000:]
    assert "sinks flushed or spooled" in text
    assert token not in text
    cycles = _cycles(log)
    series = victoria.export('cycle_devices{collector="snmp"}')
    stamps = [t for s in series for t in s["timestamps"]]
    assert len(stamps) == len(set(stamps)) == cycles, (len(stamps), len(set(stamps)), cycles)
    per_device = victoria.export(f'poll_up{{device="{HOSTILE_DEVICE}",collector="snmp"}}')
    assert sum(len(s["timestamps"]) for s in per_device) == cycles
    assert "Traceback" not in text, text[-3000:]


def _all_areas(client: httpx.Client) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    stack = client.get("/api/areas", params={"depth": 4}).json()
    while stack:
        node = stack.pop()
        found.append(node)
        stack.extend(node.get("children", []))
    return found


def test_config_errors_are_clear(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(json.dumps({"poll": {"interval_s": -1, "workerz": 2}, "influx": {"url": 5}}))
    done = subprocess.run([sys.executable, "-m", "yiwang", "poll", "--once", "-c", str(bad)], capture_output=True,
                          text=True)
    assert done.returncode == 2
    assert "poll.interval_s" in done.stderr and "poll.workerz" in done.stderr
