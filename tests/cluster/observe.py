"""What the cluster tests read from running processes: a condition waited for, and who polled what in which cycle
(read back from the results stream, whose entries name their poller and cycle)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import httpx
import redis.asyncio as aioredis

from collectors.base import PollResult
from yiwang.cluster.transport import STREAM, decode

T = TypeVar("T")


def wait_until(condition: Callable[[], T], timeout: float, what: str, every: float = 0.5) -> T:
    """The condition's first true answer; a request that fails or an answer not yet complete counts as not yet."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            answer = condition()
        except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError) as exc:
            last = exc
        else:
            if answer:
                return answer
            last = answer
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


async def snmp_polls(url: str) -> list[tuple[str, str, int]]:
    """(device, poller, cycle) of every SNMP result the pollers published."""
    client = aioredis.Redis.from_url(url)
    try:
        entries = await client.xrange(STREAM)
    finally:
        await client.aclose()
    found = []
    for _, fields in entries:
        event = decode(fields[b"m"])
        if isinstance(event, PollResult) and event.collector == "snmp":
            found.append((event.device, fields[b"p"].decode(), int(fields[b"s"])))
    return found
