"""Fixtures more than one test folder uses."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.sinks.servers import VictoriaMetrics, start_victoria_metrics


@pytest.fixture
def victoria(tmp_path: Path) -> Iterator[VictoriaMetrics]:
    """A VictoriaMetrics of the test's own on loopback (the sinks' InfluxDB write API, the metric history)."""
    server = start_victoria_metrics(tmp_path)
    try:
        yield server
    finally:
        server.stop()
