"""等保 2.0 compliance through the API of a real `yiwang run` on its own small lab: the backup cycle at start and the
compliance run after it, a run now (a 202 job), the results per device (evidence only for those who may read
configurations), the assessor's HTML report holding the evidence line of a known failure, one device fixed over
SSH (an NTP server), backed up and run again: the API shows it fixed, the runs and the trend show the change, and
/metrics holds the samples."""

from __future__ import annotations

import html
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from netmiko import ConnectHandler

from collectors.platforms import cli_of
from lab import lab_down, lab_inventory_dir, lab_up
from tests.e2e.conftest import api_client, api_token, free_tcp_port, start_run, stop_run, wait_for_api, write_config

pytestmark = pytest.mark.integration
NTP = {"vrp": "ntp-service unicast-server 10.0.0.1", "ios": "ntp server 10.0.0.1"}
# A v2c community (the lab's grammar takes it on IOS and RGOS): snmp-v3-priv-only fails on its line.
COMMUNITY = "snmp-server community e2e-secret-community RO ipv6 MGMT6"


def configure(city: City, device: dict[str, Any], *lines: str) -> None:
    cli = cli_of(device["platform"])
    login = (city.state / "lab" / "ssh.login").read_text().strip()
    connection = ConnectHandler(device_type=cli.netmiko_type, host=device["address"], port=device["ssh"]["port"],
                                username="lab", password=login, secret=login, fast_cli=True, global_cmd_verify=True)
    if cli.enable:
        connection.enable()
    connection.send_config_set([cli.config_enter, *lines, cli.config_leave], enter_config_mode=False,
                               exit_config_mode=False, read_timeout=10)
    connection.disconnect()


class City:
    def __init__(self, state: Path, config: Path, url: str) -> None:
        self.state, self.config, self.url = state, config, url
        self.log = state / "run.log"


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Iterator[City]:
    state = tmp_path_factory.mktemp("compliance-city")
    lab_up(state, profile="small", seed=2026, port=random.randint(20000, 29999))
    port = free_tcp_port()
    # one backup cycle at start (then a day away), the compliance run after it; samples every few seconds
    config = write_config(state / "yiwang.yaml", state, api={"port": port}, ssh={"interval_s": 3600},
                          archive={"interval_s": 86400}, compliance={"samples_interval_s": 2},
                          audit={"path": str(state / "audit.jsonl")})
    found = City(state, config, f"http://127.0.0.1:{port}")
    process = start_run(config, found.log)
    try:
        wait_for_api(found.url, process, found.log)
        yield found
    finally:
        if process.poll() is None:
            stop_run(process)
        lab_down(state)
    assert "Traceback" not in found.log.read_text(), found.log.read_text()[-3000:]


def until(what: str, check: Any, timeout: float = 300) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, f"no {what} within {timeout} s"
        time.sleep(1)


def job_done(client: httpx.Client, answer: httpx.Response) -> dict[str, Any]:
    assert answer.status_code == 202, answer.text
    url = answer.json()["url"]
    view = until("end of the job", lambda: (v := client.get(url).json())["state"] in ("done", "failed") and v)
    assert view["state"] == "done", view
    return view  # type: ignore[no-any-return]


def test_backup_run_report_fix_over_ssh_and_the_change_shows(city: City) -> None:
    devices = {d["name"]: d for d in yaml.safe_load((lab_inventory_dir(city.state) / "devices.yaml").read_text())[
        "devices"] if d.get("ssh")}
    operator = api_client(city.url, api_token(city.config, "viewer", "operator", name="ops"), timeout=120)
    assessor = api_client(city.url, api_token(city.config, "auditor", name="assessor"), timeout=120)
    viewer = api_client(city.url, api_token(city.config, "viewer", name="view"), timeout=120)

    # the run after the backup cycle at start
    first = until("run after the backup", lambda: (r := operator.get("/api/compliance/runs").json()["runs"]) and r)
    assert first[-1]["trigger"] == "backup" and first[-1]["devices"] == len(devices) and first[-1]["rules"] == 17
    # a known failure with an evidence line: a v2c community on an IOS device, backed up; and a run now
    # (an IOS device that passed snmp-v3-priv-only at the baseline run, so that it newly fails a high rule)
    clean = {d["device"] for d in assessor.get("/api/compliance", params={
        "rule": "snmp-v3-priv-only", "status": "pass", "limit": 1000}).json()["devices"]}
    weak = sorted(n for n, d in devices.items() if d["platform"] == "cisco_ios" and d.get("address") and n in clean)[0]
    configure(city, devices[weak], COMMUNITY)
    job_done(operator, operator.post("/api/configs/backup", json={"device": weak}))
    ran = job_done(operator, operator.post("/api/compliance/runs"))
    assert ran["results"][0]["run"] == first[0]["id"] + 1 and ran["started_by"] == "ops"
    assert viewer.post("/api/compliance/runs").status_code == 403
    # the weak device newly fails a high rule: one alert, naming the device and the rule; the standing failures
    # of the baseline run raise none
    alert = until("the compliance alert", lambda: next(
        (a for a in operator.get("/api/alerts").json() if a.get("rule") == "compliance_high_failed"
         and a.get("labels", {}).get("device") == weak and a["labels"].get("check") == "snmp-v3-priv-only"), None), 60)
    assert alert["severity"] == "major" and weak in alert["annotations"]["summary"]
    assert "snmp-v3-priv-only" in alert["annotations"]["summary"]
    paged = {a["labels"]["device"] for a in operator.get("/api/alerts").json()
             if a.get("rule") == "compliance_high_failed"}
    assert paged == {weak}, paged

    failing = assessor.get("/api/compliance", params={"rule": "ntp-server", "status": "fail"}).json()
    assert failing["evidence"] is True and failing["total"] == len(failing["devices"]) > 0
    name = sorted(d["device"] for d in failing["devices"] if devices[d["device"]].get("address"))[0]  # IPv4 SSH
    area = devices[name]["area"]
    township = ".".join(area.split(".")[:4])  # the device's township, or higher for a county's or city's device

    mine = assessor.get(f"/api/compliance/devices/{name}").json()
    assert mine["device"] == name and mine["platform"] == devices[name]["platform"]
    assert [a["id"] for a in mine["area"]][-1] == area
    ntp = next(r for r in mine["results"] if r["rule"] == "ntp-server")
    assert ntp["status"] == "fail" and ntp["evidence"] and ntp["remediation"]
    # the known failure's evidence line in its township's report for the assessor; the community masked
    snmp = next(r for r in assessor.get(f"/api/compliance/devices/{weak}").json()["results"]
                if r["rule"] == "snmp-v3-priv-only")
    evidence = next(e for e in snmp["evidence"] if "line" in e)
    assert snmp["status"] == "fail" and evidence["text"].startswith("snmp-server community ******")
    where = ".".join(devices[weak]["area"].split(".")[:4])
    report = assessor.get("/api/compliance/report", params={"area": where, "format": "html"})
    assert report.status_code == 200 and report.headers["content-type"].startswith("text/html")
    page = report.text
    assert f'id="area-{where}"' in page and "不通过项" in page and html.escape(weak) in page
    assert f"{evidence['line']}: {html.escape(evidence['text'])}" in page and "e2e-secret-community" not in page
    assert html.escape(ntp["remediation"][0]) in assessor.get("/api/compliance/report", params={"area": township}).text
    # a viewer sees the counts, not the configuration's lines
    withheld = viewer.get(f"/api/compliance/devices/{name}").json()
    assert all("evidence" not in r and r["evidence_omitted"] for r in withheld["results"])
    assert html.escape(evidence["text"]) not in viewer.get("/api/compliance/report", params={"area": where}).text
    rows = assessor.get("/api/compliance/report", params={"area": township, "format": "csv"}).text.splitlines()
    assert rows[0].startswith("device,platform,area_path,rule,clause") and len(rows) - 1 == sum(
        17 for d in devices.values() if d["area"].startswith(township + ".") or d["area"] == township)
    assert operator.get("/api/compliance/devices/no-such-device").status_code == 404
    assert operator.get("/api/compliance", params={"area": "no.such.area"}).status_code == 404

    # fixed over SSH: an NTP server; backed up; run again
    configure(city, devices[name], NTP[cli_of(devices[name]["platform"]).family])
    job_done(operator, operator.post("/api/configs/backup", json={"device": name}))
    ran = job_done(operator, operator.post("/api/compliance/runs"))
    assert ran["results"][0]["fixed"] >= 1

    after = operator.get(f"/api/compliance/devices/{name}").json()
    assert next(r for r in after["results"] if r["rule"] == "ntp-server")["status"] == "pass"
    runs = operator.get("/api/compliance/runs").json()
    assert runs["runs"][0]["id"] == ran["results"][0]["run"] and not runs["running"]
    assert {"device": name, "rule": "ntp-server"} in runs["changes"]["fixed"]
    trend = operator.get("/api/compliance/trend", params={"area": township, "rule": "ntp-server"}).json()
    assert trend["changes"]["fixed"] == [{"device": name, "rule": "ntp-server"}]
    assert trend["changes"]["newly_failing"] == []
    assert trend["points"] and all(p["rule"] == "ntp-server" for p in trend["points"])

    # the samples: per area and rule, per device for the high rules, IPv6 readiness per county
    def exposition() -> str | None:
        text = operator.get("/metrics").text
        return text if 'rule="ntp-server"' in text and "yiwang_compliance_failed{" in text else None

    metrics = until("compliance samples", exposition, 60)
    assert "yiwang_compliance_checked{" in metrics and "yiwang_compliance_device_failed{" in metrics
    assert "yiwang_ipv6_readiness_villages{" in metrics
    ipv6 = operator.get("/api/compliance/ipv6", params={"area": township}).json()
    assert ipv6["devices"] and {c["check"] for c in ipv6["devices"][0]["checks"]} == {
        "global", "uplink-address", "icmp", "snmp", "plan"}
    assert ipv6["counties"] and all(c["county"].startswith(f"{township}.") or township.startswith(c["county"])
                                    for c in ipv6["counties"])  # the counties inside the area, or above it
    # ICMPv6 from the runtime's own cycles: measured, not `error`, for the devices with an IPv6 address
    with6 = [d for d in operator.get("/api/compliance/ipv6").json()["devices"]
             if devices.get(d["device"], {}).get("address6")]
    assert any(c["status"] in ("pass", "fail") for d in with6 for c in d["checks"] if c["check"] == "icmp")
    # and SNMP over IPv6 from the SNMP cycles (the `snmp_ipv6` series), the same way
    assert any(c["status"] in ("pass", "fail") for d in with6 for c in d["checks"] if c["check"] == "snmp")
