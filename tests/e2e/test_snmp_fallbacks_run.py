"""`yiwang run` against recordings of devices the city plan would never produce (snmpsim serving
tests/collectors/recordings): no ifXTable, no ifName, Windows strings ending in NUL. Checked through the API
and /metrics, as a user would see them."""

from __future__ import annotations

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

from tests.collectors.snmpsim_responder import Responder, start_responder
from tests.e2e.conftest import api_client, api_token, free_tcp_port

WRAP_AFTER_S = 20  # old-switch's port 1 ifInOctets wraps this long after snmpsim starts (make_recordings.py)
PORT1 = "RMON:10/100 Port 1 on Unit 1"
# A rate is stamped when the device's walk ends; snmpsim serving four devices at once on two busy cores skews that
# by a few hundred ms of a 3 s interval. A wrong fallback or wrap would be off by orders of magnitude.
TOLERANCE = 0.25
DEVICES = {  # device name = community = recording; platform only matters to SSH, which is off here
    "old-switch": ("hp_comware", "access", ["system", "if-mib"]),
    "no-ifname": ("cisco_ios", "router", ["system", "if-mib"]),
    "windows-host": ("linux", "server", ["system", "if-mib", "host-resources"]),
    "winxp-full-walk": ("linux", "server", ["system", "if-mib"]),
}


@pytest.fixture(scope="module")
def responder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Responder]:
    served = start_responder(tmp_path_factory.mktemp("snmpsim"))
    try:
        yield served
    finally:
        served.stop()


def _inventory(folder: Path, port: int) -> None:
    secrets = folder / "secrets"
    secrets.mkdir(parents=True)
    credentials, devices = [], []
    for name, (platform, role, profiles) in DEVICES.items():
        (secrets / name).write_text(name + "\n")
        credentials.append({"name": name, "kind": "snmp_v2c", "community": {"file": str(secrets / name)}})
        devices.append({"name": name, "platform": platform, "role": role, "area": "hb.hg", "address": "127.0.0.1",
                        "snmp": {"credential": name, "profiles": profiles, "port": port}})
    (folder / "net.yaml").write_text(yaml.safe_dump({
        "credentials": credentials,
        "areas": [{"id": "hb", "name": "Hubei", "level": "province"},
                  {"id": "hb.hg", "name": "Huanggang", "level": "city", "parent": "hb"}],
        "devices": devices,
    }))


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


def _rows(device: dict[str, Any], measurement: str = "interface") -> dict[str, dict[str, Any]]:
    return {m["tags"]["interface"]: m for m in device["metrics"].get(measurement, [])}


def test_fallbacks_through_run_api_and_metrics(responder: Responder, tmp_path: Path) -> None:
    _inventory(tmp_path / "inventory", responder.port)
    api_port = free_tcp_port()
    config = tmp_path / "yiwang.yaml"
    config.write_text(yaml.safe_dump({
        "state_dir": str(tmp_path / "state"), "inventory": [str(tmp_path / "inventory")],
        "api": {"port": api_port, "metrics_public": True}, "ssh": {"enabled": False},
        "poll": {"interval_s": 3, "icmp_interval_s": 5, "timeout_s": 1, "retries": 1, "icmp_count": 1}}))
    log = tmp_path / "yiwang.log"
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "xdg")}
    client = api_client(f"http://127.0.0.1:{api_port}", api_token(config, "viewer"))
    with open(log, "wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "yiwang", "run", "-c", str(config)], stdout=out,
                                   stderr=subprocess.STDOUT, env=env)

    def device(name: str) -> dict[str, Any]:
        response = client.get(f"/api/devices/{name}")
        assert "\\u0000" not in response.text, response.text  # no NUL anywhere in the JSON
        return dict(response.json())

    try:
        # the second cycle has rates
        for name in DEVICES:
            _wait(lambda n=name: any("in_bps" in m["fields"] for m in device(n)["metrics"].get("interface", [])),
                  60, f"rates for {name}")

        old = device("old-switch")
        rows = _rows(old)
        assert set(rows) == {PORT1, "RMON:10/100 Port 2 on Unit 1", "RMON:10/100 Port 3 on Unit 1",
                             "RMON:1000 Port 25 on Unit 1"}
        assert rows[PORT1]["fields"]["speed_mbps"] == 100.0
        assert rows["RMON:1000 Port 25 on Unit 1"]["fields"]["in_bps"] == pytest.approx(40e6, rel=TOLERANCE)
        assert {m["tags"]["counters"] for m in old["metrics"]["interface_info"]} == {"32"}
        assert old["metrics"]["device_info"][0]["tags"]["sys_name"] == "v7-sw-old"
        assert [(h["collector"], h["reason"]) for h in old["health"] if h["collector"] == "snmp"] == [("snmp", "ok")]

        router = _rows(device("no-ifname"))
        assert set(router) == {"Gi0/0", "Gi0/1", "Tunnel0", "Null0"}
        assert router["Tunnel0"]["fields"]["in_bps"] == pytest.approx(10_000, rel=TOLERANCE)
        assert router["Gi0/0"]["fields"]["in_bps"] == pytest.approx(24e6, rel=TOLERANCE)
        assert "speed_mbps" not in router["Null0"]["fields"]
        counters = {m["tags"]["interface"]: m["tags"]["counters"]
                    for m in device("no-ifname")["metrics"]["interface_info"]}
        assert counters == {"Gi0/0": "64", "Gi0/1": "64", "Tunnel0": "32", "Null0": "32"}

        windows = device("windows-host")
        nics = _rows(windows)
        assert nics["Intel(R) PRO/1000 MT Network Connection"]["fields"]["in_bps"] == pytest.approx(5e6, rel=TOLERANCE)
        assert {m["tags"]["storage"] for m in windows["metrics"]["storage"]} == {
            "C:\\ Label:  Serial Number 5c3a1b2d", "Physical Memory"}

        xp = _rows(device("winxp-full-walk"))
        assert xp["Intel(R) PRO/Wireless 2200BG Network Connection"]["tags"]["if_index"] == "65539"
        assert xp["Intel(R) PRO/Wireless 2200BG Network Connection"]["fields"]["speed_mbps"] == 54.0

        exposition = httpx.get(f"http://127.0.0.1:{api_port}/metrics").content  # metrics_public: no token
        assert b"\x00" not in exposition
        check = subprocess.run(["promtool", "check", "metrics"], input=exposition, capture_output=True)
        assert check.returncode == 0, check.stdout + check.stderr
        text = exposition.decode()
        assert 'interface="65539"' not in text
        port1_bps = [line for line in text.splitlines()
                     if line.startswith("yiwang_interface_in_bps{") and f'interface="{PORT1}"' in line]
        assert len(port1_bps) == 1 and float(port1_bps[0].rsplit(" ", 1)[1]) == pytest.approx(8e6, rel=TOLERANCE)
        assert any(line.startswith("yiwang_interface_info{") and 'counters="32"' in line
                   and 'interface="Intel(R) PRO/Wireless 2200BG Network Connection"' in line
                   for line in text.splitlines())

        # port 1's 32-bit ifInOctets wraps WRAP_AFTER_S after snmpsim started; its rate goes on unbroken
        seen: dict[int, tuple[float, float]] = {}
        while time.time() < responder.started + WRAP_AFTER_S + 10:
            row = _rows(device("old-switch"))[PORT1]
            seen[row["time_ns"]] = (row["fields"]["in_octets_total"], row["fields"]["in_bps"])
            time.sleep(0.5)
        readings = [seen[t] for t in sorted(seen)]
        assert any(b[0] < a[0] for a, b in zip(readings, readings[1:], strict=False)), readings
        assert all(bps == pytest.approx(8e6, rel=TOLERANCE) for _, bps in readings), readings
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=60)
    text = log.read_text()
    assert code == 0, text[-3000:]
    assert "Traceback" not in text, text[-3000:]
