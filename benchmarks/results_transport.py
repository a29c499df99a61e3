"""Pollers to the core: Redis Streams (XADD pipelined / XREADGROUP + decode + XACK) against HTTP POST of the same
batches to a FastAPI endpoint (JSON list decoded into PollResults). Prints results/s and the core's CPU seconds
per 10,000 results, side by side. A throwaway redis-server on a free loopback port.

    python benchmarks/results_transport.py [--results 20000] [--samples 40] [--batch 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import socket
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402
import psutil  # noqa: E402
import redis.asyncio as aioredis  # noqa: E402
import uvicorn  # noqa: E402
from fastapi import FastAPI, Request  # noqa: E402

from collectors.base import PollResult  # noqa: E402
from collectors.model import Sample  # noqa: E402
from tests.cluster.redis_server import redis_server  # noqa: E402
from yiwang.cluster.transport import ResultsStream, StreamPublisher, decode, encode_result  # noqa: E402
from yiwang.pipeline import CycleReport  # noqa: E402


def realistic(device: int, samples: int) -> PollResult:
    """A switch's SNMP poll: interface rows with their counters and the system's figures."""
    rows = [Sample("interface", (("city", "黄冈市"), ("county", "黄州区"), ("device", f"hz-t{device % 7}-v{device}"),
                                 ("ifDescr", f"GigabitEthernet0/0/{i}"), ("ifName", f"GE0/0/{i}"),
                                 ("township", "路口镇"), ("village", f"村{device}")),
                   {"in_octets": 1.23e10 + i, "out_octets": 4.56e9 + i, "in_errors": 0.0, "oper_status": 1.0,
                    "in_bps": 12345.6, "out_bps": 6543.2}, time.time_ns()) for i in range(samples)]
    return PollResult(f"hz-t{device % 7}-v{device}", "snmp", rows, True, "ok", "", 0.31, samples * 6)


def _core_redis(url: str, total: int, done: mp.Queue) -> None:  # type: ignore[type-arg]
    async def main() -> None:
        client = aioredis.Redis.from_url(url, socket_timeout=5)
        stream = ResultsStream(client, "bench-core", count=1000)
        seen = 0
        started = None
        process = psutil.Process()
        before = process.cpu_times()  # after the imports and the start: the consuming only
        async for event in stream.events():
            if started is None:
                started = time.perf_counter()
            if isinstance(event, PollResult):
                seen += 1
            if seen >= total:
                break
        after = process.cpu_times()
        done.put((time.perf_counter() - (started or 0.0), (after.user + after.system) - (before.user + before.system)))

    asyncio.run(main())


def _core_http(port: int) -> None:
    app = FastAPI()

    @app.post("/results")
    async def results(request: Request) -> dict[str, int]:
        body = await request.body()
        taken = [decode(entry.encode()) for entry in json.loads(body)]
        return {"taken": len(taken)}

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def bench_redis(url: str, results: list[PollResult], batch: int) -> tuple[float, float]:
    done: mp.Queue = mp.Queue()  # type: ignore[type-arg]
    core = mp.Process(target=_core_redis, args=(url, len(results), done))
    core.start()
    await asyncio.sleep(1.0)
    client = aioredis.Redis.from_url(url)
    publisher = StreamPublisher(client, "bench-poller", lambda _collector: 0)
    started = time.perf_counter()
    for i in range(0, len(results), batch):
        for result in results[i:i + batch]:
            publisher.take(result)
        await publisher.settle(CycleReport("snmp", batch, batch))
    send_s = time.perf_counter() - started
    elapsed, cpu = done.get(timeout=300)
    core.join()
    await client.aclose()
    return len(results) / max(send_s, elapsed), cpu


async def bench_http(results: list[PollResult], batch: int) -> tuple[float, float]:
    port = free_port()
    core = mp.Process(target=_core_http, args=(port,))
    core.start()
    url = f"http://127.0.0.1:{port}/results"
    async with httpx.AsyncClient(timeout=60) as client:
        for _ in range(100):
            try:
                await client.post(url, content=b"[]")
                break
            except httpx.HTTPError:
                await asyncio.sleep(0.1)
        process = psutil.Process(core.pid)
        before = process.cpu_times()
        started = time.perf_counter()
        for i in range(0, len(results), batch):
            body = json.dumps([encode_result(r).decode() for r in results[i:i + batch]])
            answer = await client.post(url, content=body.encode())
            answer.raise_for_status()
        elapsed = time.perf_counter() - started
        after = process.cpu_times()
    core.terminate()
    core.join()
    return len(results) / elapsed, (after.user + after.system) - (before.user + before.system)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--results", type=int, default=20_000)
    parser.add_argument("--samples", type=int, default=40, help="samples per result (a lab switch's SNMP poll)")
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args()
    results = [realistic(i, args.samples) for i in range(args.results)]
    size = sum(len(encode_result(r)) for r in results[:100]) / 100
    with redis_server() as server:
        redis_rate, redis_cpu = asyncio.run(bench_redis(server.url, results, args.batch))
    http_rate, http_cpu = asyncio.run(bench_http(results, args.batch))
    per = 10_000 / args.results
    print(f"results={args.results} samples_per_result={args.samples} entry_bytes={size:.0f} batch={args.batch} "
          f"cpus={os.cpu_count()}")
    print(f"{'transport':<14}{'results/s':>12}{'core CPU s per 10k':>22}")
    print(f"{'redis-streams':<14}{redis_rate:>12.0f}{redis_cpu * per:>22.2f}")
    print(f"{'http-post':<14}{http_rate:>12.0f}{http_cpu * per:>22.2f}")


if __name__ == "__main__":
    main()
