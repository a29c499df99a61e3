"""Samples put into a test's VictoriaMetrics the way `yiwang run` puts them there: through yiwang's InfluxDB line
protocol sink, in batches, then made searchable at once."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from collectors.model import Sample
from tests.sinks.servers import VictoriaMetrics
from yiwang.sinks.influx import InfluxSink, InfluxTarget

BATCH = 5000


def write_through_sink(server: VictoriaMetrics, samples: Sequence[Sample]) -> None:
    sink = InfluxSink(InfluxTarget(server.influx_url, "yiwang", "metrics"), "token")

    async def run() -> None:
        for first in range(0, len(samples), BATCH):
            await sink.write(list(samples[first:first + BATCH]))
        await sink.close()

    asyncio.run(run())
    server.force_flush()
