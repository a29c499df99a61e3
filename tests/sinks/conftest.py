from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .servers import VictoriaMetrics, start_victoria_metrics


@pytest.fixture
def victoria(tmp_path: Path) -> Iterator[VictoriaMetrics]:
    server = start_victoria_metrics(tmp_path)
    try:
        yield server
    finally:
        server.stop()
