"""A device plan as a `.snmprec` data file (snmpsim's format, which lab.mib reads): `OID|TAG|VALUE` lines sorted
by OID.

Pure: the text depends only on the plan, the lab's start time and, when a file is rewritten for a fault, the
counters of the previous file (so that every counter carries on from where it was).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Iterator, Mapping

from lab.city import COUNTER64, DevicePlan, InterfacePlan
from lab.ramp import Ramp, parse_spec

INTEGER, OCTETS, OID, COUNTER32, GAUGE32, TIMETICKS, COUNTER64_TAG = "2", "4", "6", "65", "66", "67", "70"

SYSTEM = "1.3.6.1.2.1.1"
IF_NUMBER = "1.3.6.1.2.1.2.1.0"
IF_ENTRY = "1.3.6.1.2.1.2.2.1"
IFX_ENTRY = "1.3.6.1.2.1.31.1.1.1"
HR_UPTIME = "1.3.6.1.2.1.25.1.1.0"
HR_STORAGE = "1.3.6.1.2.1.25.2.3.1"
HR_PROCESSOR_LOAD = "1.3.6.1.2.1.25.3.3.1.2"
HUAWEI_ENTITY = "1.3.6.1.4.1.2011.5.25.31.1.1.1.1"
H3C_ENTITY = "1.3.6.1.4.1.25506.2.6.1.1.1.1"

# counter name -> (column OID, tag): the 64-bit ifXTable counters and their 32-bit ifTable views.
COUNTER_COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    "in_octets": ((f"{IFX_ENTRY}.6", COUNTER64_TAG), (f"{IF_ENTRY}.10", COUNTER32)),
    "in_ucast": ((f"{IFX_ENTRY}.7", COUNTER64_TAG), (f"{IF_ENTRY}.11", COUNTER32)),
    "out_octets": ((f"{IFX_ENTRY}.10", COUNTER64_TAG), (f"{IF_ENTRY}.16", COUNTER32)),
    "out_ucast": ((f"{IFX_ENTRY}.11", COUNTER64_TAG), (f"{IF_ENTRY}.17", COUNTER32)),
    "in_discards": ((f"{IF_ENTRY}.13", COUNTER32),),
    "in_errors": ((f"{IF_ENTRY}.14", COUNTER32),),
    "out_discards": ((f"{IF_ENTRY}.19", COUNTER32),),
    "out_errors": ((f"{IF_ENTRY}.20", COUNTER32),),
}
Record = tuple[str, str, str]


def render_snmprec(device: DevicePlan, started: float, previous: Mapping[str, Ramp] | None = None,
                   now: float | None = None) -> str:
    """`started` is when the lab came up (the plan's counter values hold then). With `previous` (the ramps of
    the file being replaced, see `read_ramps`) and `now`, counters continue from their value at `now`."""
    if previous and now is None:
        raise ValueError("continuing counters needs the time of the rewrite")
    counters = _Counters(started, previous or {}, now if now is not None else started)
    records = [*_system(device, started), *_interfaces(device, counters), *_resources(device, started)]
    records.sort(key=lambda r: _oid_order(r[0]))
    return "".join(f"{oid}|{tag}|{value}\n" for oid, tag, value in records)


@functools.lru_cache(maxsize=65536)
def _oid_order(oid: str) -> tuple[int, ...]:
    # Devices share their OIDs: a city has ~1,200 distinct ones among ~950,000 records.
    return tuple(int(part) for part in oid.split("."))


def read_ramps(text: str) -> dict[str, Ramp]:
    ramps = {}
    for line in text.splitlines():
        oid, tag, value = line.split("|", 2)
        if tag.endswith(":ramp"):
            ramps[oid] = parse_spec(value)
    return ramps


def octets(value: str) -> tuple[str, str]:
    """Tag suffix and value for an OctetString: plain when every reader gets it back unchanged, else hex.

    snmpsim (which serves the same files in benchmarks) strips each line and reads it as latin-1, so anything
    outside printable ASCII, or with whitespace at either end, goes as `4x` hex of its UTF-8 bytes."""
    plain = all(" " <= c <= "~" for c in value) and value == value.strip()
    return (OCTETS, value) if plain else (OCTETS + "x", value.encode("utf-8").hex())


def _string(oid: str, value: str) -> Record:
    tag, text = octets(value)
    return oid, tag, text


class _Counters:
    def __init__(self, started: float, previous: Mapping[str, Ramp], now: float) -> None:
        self.started = started
        self.previous = previous
        self.now = now

    def record(self, oid: str, tag: str, initial: int, rate: float) -> Record:
        before = self.previous.get(oid)
        if before is None:
            ramp = Ramp(initial, rate, self.started)
        else:
            # Restart the ramp from the value it has right now, so the counter neither jumps nor goes back.
            modulus = 2**64 if tag == COUNTER64_TAG else 2**32
            ramp = Ramp(before.at(self.now) % modulus, rate, self.now)
        return oid, f"{tag}:ramp", ramp.spec()


def _system(device: DevicePlan, started: float) -> Iterator[Record]:
    yield _string(f"{SYSTEM}.1.0", device.sys_descr)
    yield f"{SYSTEM}.2.0", OID, device.sys_object_id
    yield f"{SYSTEM}.3.0", f"{TIMETICKS}:numeric", _uptime_spec(device.uptime_s, started)
    yield _string(f"{SYSTEM}.4.0", "Huanggang E-Gov NOC <noc@hg.egov.example>")
    yield _string(f"{SYSTEM}.5.0", device.sys_name)
    yield _string(f"{SYSTEM}.6.0", f"{device.area} {device.site or ''} {device.cabinet or ''}".strip())
    yield f"{SYSTEM}.7.0", INTEGER, "72" if device.platform == "linux" else "6"


def _uptime_spec(uptime_s: int, started: float) -> str:
    # numeric's clock is the responder's start unless `atime` is set; with absolute time and an initial value
    # shifted back by the lab's start, uptime survives an agent restart instead of looking like a reboot.
    return f"rate=100,atime=1,initial={uptime_s * 100 - started * 100:.2f}"


def _interfaces(device: DevicePlan, counters: _Counters) -> Iterator[Record]:
    yield IF_NUMBER, INTEGER, str(len(device.interfaces))
    for iface in device.interfaces:
        yield from _interface(device, iface, counters)


def _interface(device: DevicePlan, iface: InterfacePlan, counters: _Counters) -> Iterable[Record]:
    i = iface.index
    speed_bps = min(iface.speed_mbps * 1_000_000, 2**32 - 1)
    records = [
        (f"{IF_ENTRY}.1.{i}", INTEGER, str(i)),
        _string(f"{IF_ENTRY}.2.{i}", iface.name),
        (f"{IF_ENTRY}.3.{i}", INTEGER, str(iface.if_type)),
        (f"{IF_ENTRY}.4.{i}", INTEGER, "65536" if iface.if_type == 24 else "1500"),
        (f"{IF_ENTRY}.5.{i}", GAUGE32, str(speed_bps)),
        (f"{IF_ENTRY}.6.{i}", OCTETS + "x", iface.mac.replace(":", "")),
        (f"{IF_ENTRY}.7.{i}", INTEGER, "1" if iface.admin_up else "2"),
        (f"{IF_ENTRY}.8.{i}", INTEGER, "1" if iface.oper_up else "2"),
        (f"{IF_ENTRY}.9.{i}", TIMETICKS, str(min(device.uptime_s // 2, 86400 * 7) * 100)),
        _string(f"{IFX_ENTRY}.1.{i}", iface.name),
        (f"{IFX_ENTRY}.15.{i}", GAUGE32, str(iface.speed_mbps)),
        _string(f"{IFX_ENTRY}.18.{i}", iface.alias),
    ]
    for name, columns in COUNTER_COLUMNS.items():
        initial, rate = iface.initial.get(name, 0), iface.rates.get(name, 0.0)
        for column, tag in columns:
            start = initial if name in COUNTER64 and tag == COUNTER64_TAG else initial % 2**32
            records.append(counters.record(f"{column}.{i}", tag, start, rate))
    return records


def _resources(device: DevicePlan, started: float) -> Iterator[Record]:
    if device.platform == "linux":
        yield HR_UPTIME, f"{TIMETICKS}:numeric", _uptime_spec(device.uptime_s, started)
        for cpu in device.cpus:
            yield f"{HR_PROCESSOR_LOAD}.{cpu.index}", f"{INTEGER}:numeric", _wave(cpu.mean, cpu.swing, cpu.period_s)
        for s in device.storage:
            yield f"{HR_STORAGE}.1.{s.index}", INTEGER, str(s.index)
            yield _string(f"{HR_STORAGE}.3.{s.index}", s.descr)
            yield f"{HR_STORAGE}.4.{s.index}", INTEGER, str(s.unit_bytes)
            yield f"{HR_STORAGE}.5.{s.index}", INTEGER, str(s.size)
            yield f"{HR_STORAGE}.6.{s.index}", INTEGER, str(s.used)
        return
    base = {"huawei_vrp": (HUAWEI_ENTITY, 5, 7), "hp_comware": (H3C_ENTITY, 6, 8)}.get(device.platform)
    if base is None:
        return
    table, cpu_column, mem_column = base
    for cpu in device.cpus:
        yield f"{table}.{cpu_column}.{cpu.index}", f"{INTEGER}:numeric", _wave(cpu.mean, cpu.swing, cpu.period_s)
        yield f"{table}.{mem_column}.{cpu.index}", INTEGER, str(device.mem_percent)


def _wave(mean: float, swing: float, period_s: float) -> str:
    # A CPU that breathes: mean + swing * sin(2πt / period). numeric never has to change these, so its
    # per-OID caching of options is harmless here.
    return f"function=sin%<time>,rate={2 * math.pi / period_s:.6f},scale={swing:.2f},offset={mean:.2f}"
