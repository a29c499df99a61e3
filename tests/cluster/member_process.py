"""One poller member in its own process, for tests that kill it with SIGKILL: python -m tests.cluster.member_process
URL GROUP MEMBER TTL KEYS. Prints "ready" once it holds its lease, then renews until killed."""

from __future__ import annotations

import asyncio
import sys

from yiwang.cluster.coordination import PollerMembership


async def main(url: str, group: str, member: str, ttl: float, keys: int) -> None:
    membership = PollerMembership(url, group, member, {f"t{i}": frozenset({f"d{i}"}) for i in range(keys)}, ttl)
    await membership.start()
    print("ready", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), int(sys.argv[5])))
