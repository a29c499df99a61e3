"""A process that runs a BufferedSink the way the runner does, for the SIGTERM test.

    sigterm_worker.py produce URL SPOOL_DIR COUNT   add COUNT points, print "ready", close on SIGTERM
    sigterm_worker.py replay URL SPOOL_DIR 0        replay the spool until empty, then close

The last line on stdout is the sink's stats as JSON.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import signal
import sys
from pathlib import Path

from collectors.model import Sample
from yiwang.sinks.buffered import BufferedSink, BufferPolicy
from yiwang.sinks.influx import InfluxSink, InfluxTarget

BASE_NS = 1_717_200_000_000_000_000


def numbered(start: int, count: int) -> list[Sample]:
    return [Sample("interface", (("device", f"r{n % 7}"),), {"n": float(n), "in_octets_total": n * 1e3},
                   BASE_NS + n * 1_000_000) for n in range(start, start + count)]


async def main(mode: str, url: str, spool_dir: Path, count: int) -> None:
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    sink = BufferedSink(InfluxSink(InfluxTarget(url, "yiwang", "metrics", timeout_s=2.0), "worker-token"), spool_dir,
                        BufferPolicy(max_batch=300, flush_interval=0.05, backoff_initial=0.05, backoff_max=0.5))
    await sink.start()
    if mode == "produce":
        for start in range(0, count, 1000):
            sink.add(numbered(start, min(1000, count - start)))
        print("ready", flush=True)
        await stop.wait()
    else:
        async with asyncio.timeout(60):
            await sink.flush()
    await sink.close(grace_s=5.0)
    print(json.dumps(dataclasses.asdict(sink.stats)), flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], Path(sys.argv[3]), int(sys.argv[4])))
