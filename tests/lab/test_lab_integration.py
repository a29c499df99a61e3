"""The small lab for real: its responder on 127.16.0.0/12 and [::1], checked with net-snmp's own tools."""

from __future__ import annotations

import shutil
import subprocess
import time

import pytest

from lab import lab_clear, lab_fault, lab_status
from lab.city import HOSTILE_ALIAS, HOSTILE_DEVICE, HOSTILE_SYS_NAME

from .conftest import RunningLab

pytestmark = pytest.mark.integration

SYS_NAME = "1.3.6.1.2.1.1.5.0"
SYS_UPTIME = "1.3.6.1.2.1.1.3.0"
IF_OPER = "1.3.6.1.2.1.2.2.1.8"
IF_IN_ERRORS = "1.3.6.1.2.1.2.2.1.14"
IF_HC_IN = "1.3.6.1.2.1.31.1.1.1.6"
IF_ALIAS = "1.3.6.1.2.1.31.1.1.1.18"
SWITCH = "hg-huangzhou-t01-sw01"


def agent(lab: RunningLab, device: str) -> str:
    host = lab.plan.device(device).host
    return f"udp6:[{host}]:{lab.port}" if ":" in host else f"{host}:{lab.port}"


def snmpget(lab: RunningLab, device: str, *oids: str, options: tuple[str, ...] = ()) -> list[str]:
    """Values, one per OID; raises TimeoutError when the agent does not answer."""
    done = subprocess.run(["snmpget", "-v2c", "-c", lab.community, "-t", "1", "-r", "0", "-On", "-Oqv",
                           *options, agent(lab, device), *oids], capture_output=True, text=True, check=False)
    if "Timeout" in done.stderr:
        raise TimeoutError(done.stderr.strip())
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def get_int(lab: RunningLab, device: str, oid: str) -> int:
    return int(snmpget(lab, device, oid, options=("-Ot",))[0])


def get_bytes(lab: RunningLab, device: str, oid: str) -> bytes:
    return bytes.fromhex("".join(snmpget(lab, device, oid, options=("-Ox",))).replace('"', "").replace(" ", ""))


def index_of(lab: RunningLab, device: str, interface: str) -> int:
    return lab.plan.device(device).interface(interface).index


def test_devices_answer_at_their_own_address_with_their_own_sysname(running_lab: RunningLab) -> None:
    for device in ("hg-core-01", "hg-huangzhou-t03-v002", "hg-dc1-web-001", "hb-egov-pe01"):
        assert snmpget(running_lab, device, SYS_NAME) == [f'"{device}"']
    assert running_lab.status.devices == len(running_lab.plan.devices)
    assert all(p.running for p in running_lab.status.processes)


def test_counters_and_uptime_grow_with_time(running_lab: RunningLab) -> None:
    uplink = running_lab.plan.device(SWITCH).interfaces[0]
    oid = f"{IF_HC_IN}.{uplink.index}"
    first, up1, t1 = get_int(running_lab, SWITCH, oid), get_int(running_lab, SWITCH, SYS_UPTIME), time.monotonic()
    time.sleep(2)
    second, up2, t2 = get_int(running_lab, SWITCH, oid), get_int(running_lab, SWITCH, SYS_UPTIME), time.monotonic()
    assert (second - first) / (t2 - t1) == pytest.approx(uplink.rates["in_octets"], rel=0.2)
    assert (up2 - up1) / 100 == pytest.approx(t2 - t1, abs=0.3)


def test_hostile_strings_come_back_byte_exact(running_lab: RunningLab) -> None:
    assert get_bytes(running_lab, HOSTILE_DEVICE, SYS_NAME) == HOSTILE_SYS_NAME.encode()
    hostile = next(i for i in running_lab.plan.device(HOSTILE_DEVICE).interfaces if i.alias == HOSTILE_ALIAS)
    assert get_bytes(running_lab, HOSTILE_DEVICE, f"{IF_ALIAS}.{hostile.index}") == HOSTILE_ALIAS.encode()


def test_walks_and_vendor_tables(running_lab: RunningLab) -> None:
    device = "hg-huangzhou-t01-v003"
    walk = subprocess.run(["snmpbulkwalk", "-v2c", "-c", running_lab.community, "-Oqv", "-t", "1",
                           agent(running_lab, device), "1.3.6.1.2.1.31.1.1.1.1"], capture_output=True, text=True,
                          check=True)
    assert [line.strip('"') for line in walk.stdout.splitlines()] == [
        i.name for i in running_lab.plan.device(device).interfaces]
    server = running_lab.plan.device("hg-dc1-web-001")
    load = get_int(running_lab, server.name, f"1.3.6.1.2.1.25.3.3.1.2.{server.cpus[0].index}")
    assert 0 <= load <= 100
    huawei = next(d for d in running_lab.plan.devices if d.platform == "huawei_vrp" and d.role == "township-switch")
    assert 0 <= get_int(running_lab, huawei.name, f"1.3.6.1.4.1.2011.5.25.31.1.1.1.1.5.{huawei.cpus[0].index}") <= 100
    h3c = next(d for d in running_lab.plan.devices if d.platform == "hp_comware")
    assert get_int(running_lab, h3c.name, f"1.3.6.1.4.1.25506.2.6.1.1.1.1.8.{h3c.cpus[0].index}") == h3c.mem_percent


def test_unreachable_area_times_out_and_clears(running_lab: RunningLab) -> None:
    township = "hb.hg.huangzhou.t02"
    inside = ["hg-huangzhou-t02-sw01", "hg-huangzhou-t02-v001"]
    fault = lab_fault(running_lab.state_dir, "unreachable", township)
    try:
        for device in inside:
            with pytest.raises(TimeoutError):
                snmpget(running_lab, device, SYS_NAME)
        assert snmpget(running_lab, "hg-huangzhou-t01-sw01", SYS_NAME) == ['"hg-huangzhou-t01-sw01"']
        if fault.method == "iptables" and shutil.which("fping"):
            ping = subprocess.run(["fping", "-t", "300", "-r", "0", running_lab.plan.device(inside[0]).host],
                                  capture_output=True, text=True, check=False)
            assert ping.returncode != 0
        assert [f.id for f in lab_status(running_lab.state_dir).faults] == [fault.id]
    finally:
        assert [f.id for f in lab_clear(running_lab.state_dir, fault.id)] == [fault.id]
    for device in inside:
        assert snmpget(running_lab, device, SYS_NAME) == [f'"{device}"']
    assert lab_status(running_lab.state_dir).faults == ()


def test_unreachable_without_iptables_parks_the_data_file(running_lab: RunningLab,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("lab.firewall.available", lambda: (False, "simulated"))
    device = "hg-huangzhou-t04-v001"
    fault = lab_fault(running_lab.state_dir, "unreachable", device)
    try:
        assert fault.method == "parked" and "ICMP still answers" in fault.note
        with pytest.raises(TimeoutError):
            snmpget(running_lab, device, SYS_NAME)
    finally:
        lab_clear(running_lab.state_dir, fault.id)
    assert snmpget(running_lab, device, SYS_NAME) == [f'"{device}"']


def test_link_down_stops_the_port_and_clears(running_lab: RunningLab) -> None:
    interface = running_lab.plan.device(SWITCH).interfaces[1]
    oper, octets = f"{IF_OPER}.{interface.index}", f"{IF_HC_IN}.{interface.index}"
    fault = lab_fault(running_lab.state_dir, "link-down", SWITCH, interface.name)
    try:
        assert get_int(running_lab, SWITCH, oper) == 2
        frozen = get_int(running_lab, SWITCH, octets)
        time.sleep(1.2)
        assert get_int(running_lab, SWITCH, octets) == frozen
    finally:
        lab_clear(running_lab.state_dir, fault.id)
    assert get_int(running_lab, SWITCH, oper) == 1
    resumed = get_int(running_lab, SWITCH, octets)
    assert resumed >= frozen  # continues from where it stood, no jump back
    time.sleep(1.2)
    assert get_int(running_lab, SWITCH, octets) > resumed


def test_errors_grow_while_the_fault_lasts(running_lab: RunningLab) -> None:
    interface = running_lab.plan.device(SWITCH).interfaces[2]
    oid = f"{IF_IN_ERRORS}.{interface.index}"
    fault = lab_fault(running_lab.state_dir, "errors", SWITCH, interface.name)
    try:
        first = get_int(running_lab, SWITCH, oid)
        time.sleep(1.2)
        assert get_int(running_lab, SWITCH, oid) - first >= 20
    finally:
        lab_clear(running_lab.state_dir, fault.id)
    stopped = get_int(running_lab, SWITCH, oid)
    time.sleep(1.1)
    assert get_int(running_lab, SWITCH, oid) - stopped <= 1  # back to the baseline trickle, if any


def test_saturate_fills_the_port(running_lab: RunningLab) -> None:
    interface = running_lab.plan.device(SWITCH).interfaces[0]
    oid = f"{IF_HC_IN}.{interface.index}"
    fault = lab_fault(running_lab.state_dir, "saturate", SWITCH, interface.name)
    try:
        first, t1 = get_int(running_lab, SWITCH, oid), time.monotonic()
        time.sleep(1.5)
        second, t2 = get_int(running_lab, SWITCH, oid), time.monotonic()
        assert (second - first) * 8 / (t2 - t1) / 1e6 == pytest.approx(0.98 * interface.speed_mbps, rel=0.1)
    finally:
        lab_clear(running_lab.state_dir, fault.id)
