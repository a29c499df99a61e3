"""lab.responder for real: a process on loopback addresses (and ::1), asked by net-snmp's tools, by yiwang's own
client and by pysnmp's codec (lab.probe), with its data files rewritten and parked underneath it."""

from __future__ import annotations

import random
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from collectors.snmp.fast_v2c import FastV2cEngine
from collectors.snmp.session import Target as SessionTarget
from collectors.snmp.session import V2cCredentials
from lab.agents import responder_command
from lab.city import CityPlan, DevicePlan
from lab.probe import SYS_NAME, Target, snmp_get
from lab.snmprec import render_snmprec
from lab.state import write_atomic, write_manifest

pytestmark = pytest.mark.integration

COMMUNITY = "lab-community"
IF_NAME = "1.3.6.1.2.1.31.1.1.1.1"
IF_HC_IN = "1.3.6.1.2.1.31.1.1.1.6"
IF_IN = "1.3.6.1.2.1.2.2.1.10"
# Addresses outside the lab's 127.16.0.0/12, so that another lab's 'unreachable' fault cannot touch them.
WRAPPER = ("127.200.0.9", "wrapper")
DEVICES = {"hg-core-01": "127.200.0.1", "hg-huangzhou-t01-v001": "127.200.0.2", "hb-egov-pe01": "::1"}


@dataclass
class Running:
    process: psutil.Popen
    port: int
    data: Path
    log: Path
    plan: CityPlan

    def agent(self, host: str) -> str:
        return f"udp6:[{host}]:{self.port}" if ":" in host else f"{host}:{self.port}"

    def device(self, name: str) -> tuple[DevicePlan, str]:
        return self.plan.device(name), DEVICES[name]

    def stop(self) -> str:
        if self.process.is_running():
            self.process.terminate()
            self.process.wait(10)
        return self.log.read_text()


def wrapper_data(t0: float) -> str:
    # Counters one second away from their wrap from t0, going at 1000/s.
    return (f"1.3.6.1.2.1.1.5.0|4|wrapper\n"
            f"{IF_IN}.1|65:ramp|base={2**32 - 1000},rate=1000.000000,t0={t0:.3f}\n"
            f"{IF_HC_IN}.1|70:ramp|base={2**64 - 1000},rate=1000.000000,t0={t0:.3f}\n")


def start(tmp_path: Path, plan: CityPlan, extra: tuple[str, ...] = (), port: int | None = None) -> Running:
    if not shutil.which("snmpget"):
        pytest.skip("net-snmp's snmpget is not installed")
    data, run = tmp_path / "data", tmp_path / "run"
    data.mkdir(parents=True)
    started = time.time()
    pairs = []
    for name, address in DEVICES.items():
        (data / f"{name}.snmprec").write_text(render_snmprec(plan.device(name), started))
        pairs.append((address, name))
    (data / "wrapper.snmprec").write_text(wrapper_data(started))
    pairs.append(WRAPPER)
    write_manifest(run / "agents", pairs)
    write_atomic(run / "community", COMMUNITY + "\n", mode=0o600)
    port = port or random.randint(20000, 29999)
    log = tmp_path / "responder.log"
    with open(log, "wb") as out:
        process = psutil.Popen([*responder_command(data, run / "agents", port, run / "community"), *extra],
                               stdout=out, stderr=subprocess.STDOUT)
    running = Running(process, port, data, log, plan)
    deadline = time.monotonic() + 20
    while "ready:" not in log.read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"the responder did not start: {log.read_text()}")
        time.sleep(0.05)
    return running


@pytest.fixture
def responder(tmp_path: Path, small: CityPlan) -> Iterator[Running]:
    running = start(tmp_path, small)
    try:
        yield running
    finally:
        running.stop()


def net_snmp(tool: str, running: Running, host: str, *args: str, community: str = COMMUNITY) -> list[str]:
    """`args`: options (starting with '-') and OIDs, in any order."""
    options, names = [a for a in args if a.startswith("-")], [a for a in args if not a.startswith("-")]
    done = subprocess.run([tool, "-c", community, "-t", "1", "-r", "0", "-On", "-Oq", *options,
                           running.agent(host), *names], capture_output=True, text=True, check=False)
    if "Timeout" in done.stderr:
        raise TimeoutError(done.stderr.strip())
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def oids(lines: list[str]) -> list[str]:
    # (a multi-line string value continues on lines of its own)
    return [line.split(" ", 1)[0][1:] for line in lines if line.startswith(".1.")]


def test_net_snmp_gets_and_walks_every_device_by_its_address(responder: Running) -> None:
    for name in ("hg-core-01", "hb-egov-pe01"):
        assert net_snmp("snmpget", responder, DEVICES[name], "-v2c", "-Ov", SYS_NAME) == [f'"{name}"']
    host = DEVICES["hg-core-01"]
    records = [line.split("|") for line in (responder.data / "hg-core-01.snmprec").read_text().splitlines()]
    bulk = net_snmp("snmpbulkwalk", responder, host, "-v2c", "-Cr25", ".1")
    walk = net_snmp("snmpwalk", responder, host, "-v2c", ".1")
    end = f".{records[-1][0]} No more variables left in this MIB View (It is past the end of the MIB tree)"
    assert bulk[-1] == walk[-1] == end  # as net-snmp's own agent ends a walk from .1
    assert oids(bulk[:-1]) == oids(walk[:-1]) == [oid for oid, _, _ in records]
    v1 = net_snmp("snmpwalk", responder, host, "-v1", ".1")
    assert oids(v1) == [oid for oid, tag, _ in records if not tag.startswith("70")]  # no Counter64 in SNMPv1
    missing = net_snmp("snmpget", responder, host, "-v2c", "1.3.6.1.2.1.1.9.0", f"{IF_NAME}.99999")
    assert missing == [".1.3.6.1.2.1.1.9.0 No Such Object available on this agent at this OID",
                       f".{IF_NAME}.99999 No Such Instance currently exists at this OID"]


def test_hostile_strings_come_back_byte_exact(responder: Running) -> None:
    device, host = responder.device("hg-huangzhou-t01-v001")
    got = net_snmp("snmpget", responder, host, "-v2c", "-Ov", "-Ox", SYS_NAME)
    assert bytes.fromhex(re.sub(r'[" ]', "", "".join(got))) == device.sys_name.encode("utf-8")


async def test_yiwangs_own_client_reads_tables_over_v4_and_v6(responder: Running) -> None:
    engine = FastV2cEngine()
    try:
        for name in ("hg-core-01", "hb-egov-pe01"):
            device, host = responder.device(name)
            session = engine.session(SessionTarget(host, responder.port, 1.0, 1), V2cCredentials(COMMUNITY))
            assert (await session.get([SYS_NAME]))[SYS_NAME] == name.encode()
            walked = await session.walk_columns([IF_NAME, IF_HC_IN], max_repetitions=7)
            assert [value for _, value in walked[IF_NAME]] == [i.name.encode() for i in device.interfaces]
            assert [index for index, _ in walked[IF_HC_IN]] == [str(i.index) for i in device.interfaces]
    finally:
        await engine.close()


def test_counters_wrap_on_the_wire(responder: Running) -> None:
    target = Target(WRAPPER[0], responder.port, COMMUNITY)

    def counters() -> tuple[int, int]:
        got = snmp_get(target, [f"{IF_IN}.1", f"{IF_HC_IN}.1"])
        return got[f"{IF_IN}.1"], got[f"{IF_HC_IN}.1"]

    # Both start 1000 below their wrap, at 1000/s from t0: standing still until t0, wrapped one second later.
    t0 = time.time() + 3.0
    write_atomic(responder.data / "wrapper.snmprec", wrapper_data(t0))
    deadline = time.monotonic() + 2.5
    while counters() != (2**32 - 1000, 2**64 - 1000):
        assert time.monotonic() < deadline, "the new data was not served"
        time.sleep(0.05)
    time.sleep(max(0.0, t0 + 1.5 - time.time()))
    asked = time.time()
    wrapped = counters()
    assert 0 < wrapped[0] <= 1000 * (time.time() - t0) - 1000
    assert wrapped[0] >= 1000 * (asked - t0) - 1000 - 1
    assert wrapped[1] == wrapped[0]  # 2**64 - 1000 + n wraps to the same small n


def test_wrong_community_and_garbage_get_no_answer_and_it_keeps_serving(tmp_path: Path, small: CityPlan) -> None:
    running = start(tmp_path, small)
    host = DEVICES["hg-core-01"]
    try:
        with pytest.raises(TimeoutError):
            net_snmp("snmpget", running, host, "-v2c", SYS_NAME, community=f"{COMMUNITY}-hg-core-01")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for garbage in (b"", b"\x30\x03\x02\x01", b"\x30\x82\xff\xff" + bytes(100), random.randbytes(500)):
                sock.sendto(garbage, (host, running.port))
        assert net_snmp("snmpget", running, host, "-v2c", "-Ov", SYS_NAME) == ['"hg-core-01"']
    finally:
        log = running.stop()
    stats = dict(re.findall(r"(\w+)=(\d+)", log.splitlines()[-1]))
    assert stats["bad_community"] == "1" and stats["malformed"] == "4" and stats["answered"] == "1"


def test_a_rewritten_file_is_served_within_a_second_and_a_parked_one_is_silent(responder: Running) -> None:
    target = Target(WRAPPER[0], responder.port, COMMUNITY)
    live = responder.data / "wrapper.snmprec"

    def within(seconds: float, condition: object) -> float:
        started = time.monotonic()
        while time.monotonic() - started < seconds:
            try:
                if condition == snmp_get(target, [SYS_NAME], timeout=0.2, retries=0)[SYS_NAME]:
                    return time.monotonic() - started
            except TimeoutError:
                if condition is None:
                    return time.monotonic() - started
            time.sleep(0.05)
        raise AssertionError(f"not {condition!r} within {seconds} s")

    assert snmp_get(target, [SYS_NAME])[SYS_NAME] == b"wrapper"
    original = live.read_text()
    for n in range(3):  # changes within one timestamp tick must not be missed either
        write_atomic(live, original.replace("|4|wrapper", f"|4|renamed-{n}"))
    assert within(1.2, b"renamed-2") < 1.2
    parked = responder.data.parent / "wrapper.snmprec"
    shutil.move(live, parked)
    within(1.2, None)
    shutil.move(parked, live)
    within(1.2, b"renamed-2")


def test_a_bind_failure_is_reported(tmp_path: Path, small: CityPlan) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as holder:
        holder.bind(("127.200.0.99", 0))
        port = holder.getsockname()[1]
        (tmp_path / "data").mkdir()
        write_manifest(tmp_path / "agents", [("127.200.0.99", "x")])
        (tmp_path / "community").write_text(COMMUNITY)
        done = subprocess.run(responder_command(tmp_path / "data", tmp_path / "agents", port, tmp_path / "community"),
                              capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 1
    assert "cannot bind 127.200.0.99 port" in done.stdout and "Address already in use" in done.stdout
