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


# The small lab of the end-to-end tests (one county), for the roles' end-to-end test.
from tests.e2e.conftest import lab_state  # noqa: E402, F401
