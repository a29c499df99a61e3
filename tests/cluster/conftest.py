from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.cluster.redis_server import REDIS_SERVER, RedisServer, redis_server


@pytest.fixture(scope="module")
def redis() -> Iterator[RedisServer]:
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed (Debian package redis-server)")
    with redis_server() as server:
        yield server
