"""yiwang.queue beside the notification outbox it replaced, at 100 and 10,000 pending entries.

For each: acknowledgements per second (take the oldest entry and let it go, as a flush does, receiver time left
out) over the first tenth of the pending entries; what one acknowledgement writes, in bytes and write calls as the
kernel counts them (/proc/self/io: wchar, syscw); and appends per second (one entry per append, each fsync'd, as
dispatch() does; best of 3 rounds, as fsync times vary a lot on a shared disk). An acknowledgement in yiwang.queue
is not fsync'd; the Dispatcher makes them durable with one fsync of the 64-byte cursor file per flush round.

The old outbox is reimplemented here as it was (alerts/notify/outbox.py before issue 7): one JSON-lines file per
notifier, appended and fsync'd, and for every delivered entry read whole, rewritten without it, fsync'd and
renamed. The middle row is the queue as the sink spool uses it (no fsync per append).

Run: python benchmarks/durable_queue.py [DIR]   (DIR: where to write, default the system's temp directory; on
tmpfs fsync costs nothing and the rates mean little)
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from alerts.state import Transition
from yiwang.notify import decode_transition, encode_transition
from yiwang.queue import DurableQueue

APPENDS = 100  # timed single appends per round
MAX_ACKS = 1000
ACK_BUDGET_S = 10.0


def transition(n: int) -> Transition:
    labels = {"province": "湖北省", "city": "黄冈市", "county": "黄州区", "township": "东湖街道",
              "village": "Village 3", "device": f"hg-hz-acc-{n:05d}", "interface": "GigabitEthernet0/0/1"}
    return Transition(fingerprint=f"{n:016x}", rule="interface_down", kind="firing", at_ns=1_717_200_000 * 10**9 + n,
                      severity="major", labels=labels,
                      annotations={"summary": f"GigabitEthernet0/0/1 on hg-hz-acc-{n:05d} is down",
                                   "description": "Operational status down for 2 cycles in 黄州区 / 东湖街道"},
                      value=2.0, notify=True)


def io_counters() -> tuple[int, int]:
    fields = dict(line.split(": ") for line in Path("/proc/self/io").read_text().splitlines())
    return int(fields["wchar"]), int(fields["syscw"])


class OldOutbox:
    """The outbox before issue 7, for one notifier, reduced to what it did on disk."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.path = directory / "webhook.jsonl"

    @staticmethod
    def _line(entry_id: str, t: Transition) -> str:
        return json.dumps({"id": entry_id, "transition": t.to_dict()}, ensure_ascii=False) + "\n"

    def append(self, entries: list[tuple[str, Transition]]) -> None:
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write("".join(self._line(i, t) for i, t in entries))
            handle.flush()
            os.fsync(handle.fileno())

    def pending(self) -> list[tuple[str, Transition]]:
        if not self.path.exists():
            return []
        entries = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            entries.append((record["id"], Transition.from_dict(record["transition"])))
        return entries

    def remove(self, entry_id: str) -> None:
        keep = [(i, t) for i, t in self.pending() if i != entry_id]
        tmp = self.path.with_suffix(".tmp")
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write("".join(self._line(i, t) for i, t in keep))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.path)
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


async def measure(fill: Callable[[int], Awaitable[None]], append_one: Callable[[int], Awaitable[None]],
                  ack_one: Callable[[], Awaitable[None]], pending: int) -> dict[str, float]:
    await fill(pending)
    acks = 0
    bytes_before, calls_before = io_counters()
    start = time.perf_counter()
    while acks < min(pending // 10, MAX_ACKS) and time.perf_counter() - start < ACK_BUDGET_S:
        await ack_one()
        acks += 1
    elapsed = time.perf_counter() - start
    bytes_after, calls_after = io_counters()
    appends_s = 0.0
    for round_ in range(3):
        start = time.perf_counter()
        for n in range(APPENDS):
            await append_one(pending + round_ * APPENDS + n)
        appends_s = max(appends_s, APPENDS / (time.perf_counter() - start))
    return {"appends_s": appends_s, "acks_s": acks / elapsed, "acks": acks,
            "bytes_per_ack": (bytes_after - bytes_before) / acks, "writes_per_ack": (calls_after - calls_before) / acks}


async def new_queue(directory: Path, pending: int, durable: bool) -> dict[str, float]:
    queue = DurableQueue(directory, encode_transition, decode_transition, max_bytes=1 << 40, durable=durable)
    await queue.open()

    async def fill(count: int) -> None:
        await queue.append([transition(n) for n in range(count)])

    async def append_one(n: int) -> None:
        await queue.append([transition(n)])

    async def ack_one() -> None:
        await queue.peek()
        await queue.ack()

    try:
        return await measure(fill, append_one, ack_one, pending)
    finally:
        await queue.close()


async def old_outbox(directory: Path, pending: int) -> dict[str, float]:
    outbox = OldOutbox(directory)

    async def fill(count: int) -> None:
        outbox.append([(f"{n:032x}", transition(n)) for n in range(count)])

    async def append_one(n: int) -> None:
        outbox.append([(f"{n:032x}", transition(n))])

    async def ack_one() -> None:
        entry_id, _ = outbox.pending()[0]  # the old flush read the file, then remove() read and rewrote it
        outbox.remove(entry_id)

    return await measure(fill, append_one, ack_one, pending)


def row(name: str, r: dict[str, float]) -> str:
    return (f"  {name:<34} {r['appends_s']:>10.0f} {r['acks_s']:>10.1f} {r['bytes_per_ack']:>12.0f} "
            f"{r['writes_per_ack']:>11.1f} {r['acks']:>6.0f}")


async def main() -> None:
    base = sys.argv[1] if len(sys.argv) > 1 else None
    entry_bytes = len(encode_transition(transition(0)))
    with tempfile.TemporaryDirectory(dir=base, prefix="yiwang-queue-bench-") as where:
        root = Path(where)
        print(f"dir={root} entry_bytes={entry_bytes} appends_per_round={APPENDS}")
        results = {}
        for pending in (100, 10_000):
            new = await new_queue(root / f"new-{pending}", pending, durable=True)
            spool = await new_queue(root / f"spool-{pending}", pending, durable=False)
            old = await old_outbox(root / f"old-{pending}", pending)
            results[pending] = (new, old)
            print(f"pending={pending}")
            print(f"  {'':<34} {'appends/s':>10} {'acks/s':>10} {'bytes/ack':>12} {'writes/ack':>11} {'acks':>6}")
            print(row("yiwang.queue (fsync per append)", new))
            print(row("yiwang.queue (spool: no fsync)", spool))
            print(row("old outbox (rewrite per ack)", old))
        summary = " ".join(
            f"new_acks_s_{p}={new['acks_s']:.0f} old_acks_s_{p}={old['acks_s']:.1f} "
            f"new_bytes_per_ack_{p}={new['bytes_per_ack']:.0f} old_bytes_per_ack_{p}={old['bytes_per_ack']:.0f}"
            for p, (new, old) in results.items())
        print(summary)


if __name__ == "__main__":
    asyncio.run(main())
