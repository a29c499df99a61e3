"""Where samples go: InfluxDB through the one buffered, spooling wrapper, and the Prometheus view.

Wiring in the runner:

    sink = BufferedSink(InfluxSink(InfluxTarget(url, org, bucket), token), spool_dir)  # token: resolved
    await sink.start()                       # replays what an earlier run left in the spool
    store = LatestSamples()                  # the API serves render(make_registry(store)) on /metrics
    ... every cycle:
        sink.add(samples); store.update(samples); store.update(sink.health_samples())
    ... on SIGTERM:
        await sink.close()                   # writes what it can within its grace, spools the rest
"""

from yiwang.sinks.base import Sink, SinkError
from yiwang.sinks.buffered import BufferedSink, BufferPolicy, SinkStats
from yiwang.sinks.influx import InfluxSink, InfluxTarget
from yiwang.sinks.line_protocol import encode_batch, to_line
from yiwang.sinks.prometheus import LatestSamples, SampleCollector, make_registry, render

__all__ = [
    "BufferedSink",
    "BufferPolicy",
    "InfluxSink",
    "InfluxTarget",
    "LatestSamples",
    "SampleCollector",
    "Sink",
    "SinkError",
    "SinkStats",
    "encode_batch",
    "make_registry",
    "render",
    "to_line",
]
