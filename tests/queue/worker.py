"""A process that uses a queue, for the tests that need a real second process or a real kill.

    worker.py append DIR   append 50 items, acknowledge the first 20 and print "acked 20", then append
                           one item at a time forever, printing each number once its append returned
    worker.py lock DIR     print "locked" if another process has the queue, else "opened"
    worker.py efbig DIR    append under a file size limit until the disk refuses, print "refused N",
                           then lift the limit, append one more and print "ok"
"""

from __future__ import annotations

import asyncio
import resource
import signal
import sys
from pathlib import Path

from yiwang.queue import DurableQueue, QueueLocked, SegmentQueue


def encode(n: int) -> bytes:
    # Sizes from a few bytes to 256 KiB, and 32 MiB for every hundredth, so that a kill can land inside a write.
    return b"%d:" % n + b"x" * ((32 << 20) if n % 100 == 99 else (n * 7919) % (256 << 10))


def decode(data: bytes) -> int:
    return int(data.split(b":", 1)[0])


def make(directory: Path) -> DurableQueue[int]:
    return DurableQueue(directory, encode, decode, max_bytes=1 << 40, segment_bytes=64 << 20, durable=False)


async def append(directory: Path) -> None:
    queue = make(directory)
    await queue.open()
    await queue.append(list(range(50)))
    for _ in range(20):
        await queue.peek()
        await queue.ack()
    print("acked 20", flush=True)
    n = 50
    while True:
        await queue.append([n])
        print(n, flush=True)
        n += 1


def lock(directory: Path) -> None:
    try:
        SegmentQueue(directory, 1 << 20).open()
    except QueueLocked:
        print("locked", flush=True)
    else:
        print("opened", flush=True)


def efbig(directory: Path) -> None:
    queue = SegmentQueue(directory, 1 << 30)
    queue.open()
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit then fails with EFBIG
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, hard))
    n = 0
    try:
        while True:
            queue.append([(encode(n % 40), 1)])
            n += 1
    except OSError:
        print(f"refused {n}", flush=True)
    resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    queue.append([(encode(n % 40), 1)])
    queue.close()
    print("ok", flush=True)


if __name__ == "__main__":
    mode, where = sys.argv[1], Path(sys.argv[2])
    if mode == "append":
        asyncio.run(append(where))
    elif mode == "lock":
        lock(where)
    else:
        efbig(where)
