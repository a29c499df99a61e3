"""Fixtures more than one test folder uses."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterator
from itertools import count
from pathlib import Path

import pytest

from tests.sinks.servers import VictoriaMetrics, start_victoria_metrics
from tests.store.postgres import Cluster, bin_dir, cluster

# every asyncio task's stack when a test hangs (before pytest-timeout ends it)
pytest_plugins = ["tests.hangs"]


@pytest.fixture
def victoria(tmp_path: Path) -> Iterator[VictoriaMetrics]:
    """A VictoriaMetrics of the test's own on loopback (the sinks' InfluxDB write API, the metric history)."""
    server = start_victoria_metrics(tmp_path)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres() -> Iterator[Cluster]:
    """One throwaway PostgreSQL for the whole session (tests.store.postgres); each test takes new databases."""
    bins = bin_dir()
    if bins is None:
        pytest.skip("PostgreSQL's server binaries are missing (/usr/lib/postgresql/*/bin): apt-get install postgresql")
    if importlib.util.find_spec("psycopg") is None:
        pytest.skip("psycopg is missing: pip install 'yiwang[postgres]'")
    with cluster(bins) as running:
        yield running


@pytest.fixture(params=["sqlite", "postgresql"])
def new_database(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], str]:
    """Makes empty databases of each dialect: SQLite files, or new databases in the session's PostgreSQL cluster."""
    if request.param == "sqlite":
        numbers = count()
        return lambda: f"sqlite:///{tmp_path / f'yiwang-{next(numbers)}.sqlite'}"
    postgres: Cluster = request.getfixturevalue("postgres")
    return postgres.new_database


@pytest.fixture
def database_url(new_database: Callable[[], str]) -> str:
    return new_database()
