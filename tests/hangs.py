"""When a test hangs: every asyncio task's stack, printed shortly before pytest-timeout ends the test.

pytest-timeout prints the threads' stacks, and an asyncio test that hangs waits in its event loop's select: those
say nothing of which await never returned. The tasks' stacks do."""

from __future__ import annotations

import asyncio
import gc
import sys
import threading
from collections.abc import Iterator

import pytest

EARLY_S = 20.0  # before pytest-timeout's end of the test


def _print_tasks(loop: asyncio.AbstractEventLoop) -> None:
    tasks = asyncio.all_tasks(loop)
    print(f"\n--- {len(tasks)} asyncio tasks of the hanging test ---", file=sys.stderr)
    for task in tasks:
        task.print_stack(limit=12, file=sys.stderr)
    sys.stderr.flush()


def dump_running_loops() -> None:
    loops = [o for o in gc.get_objects() if isinstance(o, asyncio.AbstractEventLoop)]
    for loop in loops:
        if loop.is_running():
            loop.call_soon_threadsafe(_print_tasks, loop)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Iterator[None]:
    timeout = float(item.config.getini("timeout") or 0)
    timer = None
    if timeout > EARLY_S * 2:
        timer = threading.Timer(timeout - EARLY_S, dump_running_loops)
        timer.daemon = True
        timer.start()
    try:
        yield
    finally:
        if timer is not None:
            timer.cancel()
