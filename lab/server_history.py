"""The simulated city's servers' history: every server of the old cloud centre (lab.datacentre, dc1: ~2,973 in the
city, those of its first 10 cabinets in the small lab), 5-minute HOST-RESOURCES readings as yiwang's poller and
InfluxDB line protocol sink leave them in a VictoriaMetrics (collectors/snmp/profiles/host-resources.yaml):
`cpu_load_percent` (one processor row, label `cpu`), `storage_size_bytes` / `storage_used_bytes` for the
"Physical memory" row and the "/" file system (labels `storage`, `storage_index`), each labelled `device` as the
datacentre report keys a server (its device, else its name). Backfilled through `/api/v1/import` beside the
uplinks' history (lab.history), so that `yiwang capacity datacentre` has a week of utilisation to read.

Pure and deterministic: `server_histories(dc, seed)` decides how each server behaves and `series(...)` draws its
points from the city seed alone; `import_lines` streams VictoriaMetrics' JSON lines one server at a time, and
`backfill` is the thin I/O shell.

How a server is drawn: CPU is a night floor (2-8 %) plus a busy-hour swing on top (to 15-60 %), shaped by the same
office-hours, weekend and holiday pattern as the uplinks (lab.history), ±15 % noise; memory a steady share (30-80 %)
with a tenth of the swing; its disk fills slowly (0-0.3 % of the disk a day) to a drawn level (20-85 %) at the end.
A few servers, chosen by the seed, are hot: busy hours at 85-98 % CPU, memory at 90 %.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta

from inventory.datacentre import Datacentre
from lab.datacentre import OLD
from lab.history import (
    DAY_S,
    EPOCH,
    HOUR_SHARE,
    RAW_OFFSET_S,
    STEP_S,
    UTC8_S,
    Backfilled,
    day_share,
    grid,
    import_lines_into,
)
from yiwang.capacity.datacentre import MEMORY

CPU, SIZE, USED = "cpu_load_percent", "storage_size_bytes", "storage_used_bytes"  # the influx sink's names
CPU_INDEX = "196608"  # hrDeviceIndex of the first processor as net-snmp numbers it
MEMORY_INDEX, DISK, DISK_INDEX = "1", "/", "31"  # net-snmp's hrStorageIndex of RAM and of the first mount
HOT = 6
CPU_NOISE, MEMORY_SWING = 0.15, 0.10
MEMORY_GB = (16, 32, 64, 128, 256)
DISK_GB = (480, 960, 1920, 3840)
GB = 1 << 30


@dataclass(frozen=True, slots=True)
class ServerHistory:
    device: str
    cpu_floor: float  # % at night
    cpu_busy: float  # % in the busy hour of a working day
    memory_bytes: int
    memory_share: float
    disk_bytes: int
    disk_share: float  # used at the window's end
    disk_growth: float  # share of the disk filled per day
    hot: bool = False


def server_histories(dc: Datacentre, seed: int, site: str = OLD) -> list[ServerHistory]:
    """One per server of `site`, in the datacentre's order."""
    names = [s.device or s.name for s in dc.servers.values() if dc.cabinets[s.cabinet].site == site]
    hot = set(random.Random(f"{seed}:servers:hot").sample(sorted(names), min(HOT, len(names))))
    found = []
    for name in names:
        rng = random.Random(f"{seed}:servers:{name}")
        floor = rng.uniform(2.0, 8.0)
        busy = rng.uniform(85.0, 98.0) if name in hot else rng.uniform(15.0, 60.0)
        memory_share = 0.9 if name in hot else rng.uniform(0.30, 0.80)
        found.append(ServerHistory(name, floor, busy, rng.choice(MEMORY_GB) * GB, memory_share,
                                   rng.choice(DISK_GB) * GB, rng.uniform(0.20, 0.85), rng.uniform(0.0, 0.003),
                                   name in hot))
    return found


def shape(end_s: float, days: int) -> list[float]:
    """The busy-hour share (0..1) of each 5-minute point: office hours, weekends and holidays as lab.history's."""
    end = grid(end_s)
    count = days * DAY_S // STEP_S
    found = []
    for i in range(count):
        day, second = divmod(end - (count - 1 - i) * STEP_S - RAW_OFFSET_S + UTC8_S, DAY_S)
        found.append(day_share(EPOCH + timedelta(days=day)) * HOUR_SHARE[second // STEP_S])
    return found


def stamps(end_s: float, days: int) -> list[int]:
    """Milliseconds of each raw sample: mid-window, one per 5 minutes, the last in the window ending at end_s."""
    end = grid(end_s)
    count = days * DAY_S // STEP_S
    return [(end - (count - 1 - i) * STEP_S - RAW_OFFSET_S) * 1000 for i in range(count)]


def values(history: ServerHistory, seed: int, shares: Sequence[float]) -> dict[str, list[float]]:
    """{"cpu", "memory", "disk"} drawn for each point of `shares` (`shape`): CPU in %, used memory and disk in
    bytes."""
    rng = random.Random(f"{seed}:servers:points:{history.device}")
    swing = history.cpu_busy - history.cpu_floor
    cpu = [round(min(100.0, (history.cpu_floor + swing * s) * (1 + CPU_NOISE * (2 * rng.random() - 1))), 1)
           for s in shares]
    mem_base = history.memory_share * history.memory_bytes
    memory = [float(int(mem_base * (1 + MEMORY_SWING * (s - 0.5)))) for s in shares]
    last = len(shares) - 1
    per_point = history.disk_growth * history.disk_bytes * STEP_S / DAY_S
    at_end = history.disk_share * history.disk_bytes
    disk = [float(int(max(0.0, at_end - per_point * (last - i)))) for i in range(len(shares))]
    return {"cpu": cpu, "memory": memory, "disk": disk}


def import_lines(histories: Iterable[ServerHistory], seed: int, end_s: float, days: int) -> Iterator[bytes]:
    """VictoriaMetrics `/api/v1/import` JSON lines, five series per server, drawn one server at a time; the
    timestamps (the same for every series) are encoded once."""
    shares = shape(end_s, days)
    times = json.dumps(stamps(end_s, days), separators=(",", ":"))
    count = len(shares)

    def line(labels: dict[str, str], encoded: str) -> bytes:
        return (f'{{"metric":{json.dumps(labels, ensure_ascii=False, separators=(",", ":"))},'
                f'"values":{encoded},"timestamps":{times}}}\n').encode()

    def constant(value: int) -> str:
        return "[" + ",".join([str(value)] * count) + "]"

    for history in histories:
        drawn = values(history, seed, shares)
        memory = {"device": history.device, "storage": MEMORY, "storage_index": MEMORY_INDEX}
        disk = {"device": history.device, "storage": DISK, "storage_index": DISK_INDEX}
        yield line({"__name__": CPU, "cpu": CPU_INDEX, "device": history.device}, _floats(drawn["cpu"]))
        yield line({"__name__": SIZE, **memory}, constant(history.memory_bytes))
        yield line({"__name__": USED, **memory}, _floats(drawn["memory"]))
        yield line({"__name__": SIZE, **disk}, constant(history.disk_bytes))
        yield line({"__name__": USED, **disk}, _floats(drawn["disk"]))


def _floats(found: list[float]) -> str:
    return json.dumps(found, separators=(",", ":"))


def summary(histories: Sequence[ServerHistory]) -> list[str]:
    """The hot servers."""
    return [h.device for h in histories if h.hot]


def backfill(url: str, histories: Sequence[ServerHistory], seed: int, end_s: float, days: int,
             batch_bytes: int = 8 << 20, timeout_s: float = 300.0) -> Backfilled:
    """Posts every server's series to `url`/api/v1/import, a batch in flight while the next is drawn, then asks
    the server to make them searchable at once."""
    started = time.monotonic()
    lines = 0

    def counted() -> Iterator[bytes]:
        nonlocal lines
        for line in import_lines(histories, seed, end_s, days):
            lines += 1
            yield line

    sent = import_lines_into(url, counted(), batch_bytes, timeout_s)
    return Backfilled(lines, lines * (days * DAY_S // STEP_S), sent, time.monotonic() - started)
