from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.cluster.redis_server import RedisServer, redis_server


@pytest.fixture(scope="module")
def redis() -> Iterator[RedisServer]:
    with redis_server() as server:
        yield server


# The small lab of the end-to-end tests (one county), for the roles' end-to-end test.
from tests.e2e.conftest import lab_state  # noqa: E402, F401
