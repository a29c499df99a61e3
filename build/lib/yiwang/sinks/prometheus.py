"""The Prometheus view: the latest sample of every series, exposed by a custom collector.

Each field becomes `yiwang_<measurement>_<field>`: a counter when the field name ends in `_total`
(the family is named without the suffix, so the exposition shows `..._total`), a gauge otherwise.
Labels are the sample's tags; label names are sanitised, values go out as they are (the exposition
format escapes them). A collector built with `area=("county", "Huangzhou")` shows only the series
whose tags carry that area, so a large /metrics can be sharded by area, one scrape job per shard.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample as PromSample
from prometheus_client.utils import floatToGoString

from collectors.model import Sample, Tags

PREFIX = "yiwang"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_INVALID_NAME_CHARS = re.compile(r"[^a-zA-Z0-9_]")
_NEG_INF = float("-inf")


class LatestSamples:
    """The newest Sample per (measurement, tags). Thread-safe: the poll loop updates it while a
    scrape runs in the HTTP server's thread. It keeps the Samples it is given (one per series key)
    and nothing per field, so a million exposed series cost about 100k small objects."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._series: dict[tuple[str, Tags], Sample] = {}

    def update(self, samples: Iterable[Sample]) -> None:
        pairs = [((sample.measurement, sample.tags), sample) for sample in samples]
        with self._lock:
            self._series.update(pairs)

    def snapshot(self) -> list[Sample]:
        with self._lock:
            return list(self._series.values())

    def __iter__(self) -> Iterator[Sample]:
        return iter(self.snapshot())

    def __len__(self) -> int:
        return len(self._series)

    def value_count(self) -> int:
        """How many Prometheus series the store exposes (one per field)."""
        return sum(len(sample.fields) for sample in self.snapshot())


def metric_name(measurement: str, field: str) -> str:
    # An info sample (`device_info` with the field `info` = 1) is the idiomatic `yiwang_device_info`.
    if field == "info" and measurement.endswith("_info"):
        return _INVALID_NAME_CHARS.sub("_", f"{PREFIX}_{measurement}")
    return _INVALID_NAME_CHARS.sub("_", f"{PREFIX}_{measurement}_{field}")


def label_name(key: str) -> str:
    """A tag key as a valid label name that is not reserved ("__" prefix)."""
    name = _INVALID_NAME_CHARS.sub("_", key)
    if name[:1].isdigit():
        name = "_" + name
    if name.startswith("__"):
        name = "_" + name.lstrip("_")
    return name


def _label_value(value: str) -> str:
    if value.isascii():
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate would make the whole scrape fail to encode
        return value.encode("utf-8", "replace").decode("utf-8")
    return value


class _Family:
    """What one metric family needs, computed once per (measurement, field) and scrape."""

    __slots__ = ("counter", "name", "help", "sample_name", "sample_name_bytes", "lines")

    def __init__(self, measurement: str, field: str) -> None:
        self.counter = field.endswith("_total")
        name = metric_name(measurement, field)
        self.name = name[: -len("_total")] if self.counter else name
        self.help = f"{field} of {measurement}, as last polled by yiwang"
        self.sample_name = self.name + "_total" if self.counter else self.name
        self.sample_name_bytes = self.sample_name.encode("ascii")
        self.lines: list[bytes] = []

    def new_metric(self) -> Metric:
        return (CounterMetricFamily if self.counter else GaugeMetricFamily)(self.name, self.help)

    def header(self) -> str:
        kind = "counter" if self.counter else "gauge"
        doc = self.help.replace("\\", r"\\").replace("\n", r"\n")
        return f"# HELP {self.sample_name} {doc}\n# TYPE {self.sample_name} {kind}\n"


# Which tags become which labels, per tuple of tag keys: (tag index, label name), sorted by label
# name as the exposition wants them, the first of two keys that sanitise to the same name winning.
_Plan = tuple[tuple[int, str], ...]


class SampleCollector:
    """A prometheus_client custom collector over a LatestSamples store: fresh families per scrape."""

    def __init__(self, store: LatestSamples, area: tuple[str, str] | None = None) -> None:
        self.store = store
        self.area = area
        self._plans: dict[tuple[str, ...], _Plan] = {}

    def describe(self) -> list[Metric]:
        # Without describe() a registry created with auto_describe would call collect() at register
        # time; the names are not known before samples arrive anyway.
        return []

    def collect(self) -> Iterable[Metric]:
        families: dict[tuple[str, str], tuple[_Family, Metric]] = {}
        by_name: dict[str, tuple[_Family, Metric]] = {}
        for sample in self._selected():
            tags = sample.tags
            # One dict per sample, shared by its fields: labels differ in depth (a county-level
            # device has no township), so families are filled sample by sample, not with add_metric.
            labels = {name: _label_value(tags[index][1]) for index, name in self._plan(tags)}
            measurement = sample.measurement
            for field, value in sample.fields.items():
                entry = families.get((measurement, field))
                if entry is None:
                    family = _Family(measurement, field)
                    # Two fields whose names sanitise alike share a family: a second TYPE line for
                    # one name would make Prometheus reject the whole scrape.
                    entry = by_name.get(family.sample_name) or (family, family.new_metric())
                    families[(measurement, field)] = by_name[family.sample_name] = entry
                number = _number(value)
                if number is not None:
                    entry[1].samples.append(PromSample(entry[0].sample_name, labels, number, None, None, None))
        return [metric for _, metric in by_name.values()]

    def render_text(self) -> bytes:
        """The bytes generate_latest() makes from collect(), several times faster: the label block
        is escaped and encoded once per sample and shared by its fields, lines are built as bytes
        (no second pass to encode), and no Metric objects are made."""
        families: dict[str, dict[str, _Family]] = {}
        by_name: dict[str, _Family] = {}  # in creation order, the order collect() yields them in
        for sample in self._selected():
            tags = sample.tags
            labels = ",".join([f'{name}="{_escape_value(_label_value(tags[index][1]))}"'
                               for index, name in self._plan(tags)])
            head = ("{" + labels + "}").encode("utf-8") if labels else b""
            measurement = sample.measurement
            by_field = families.get(measurement)
            if by_field is None:
                by_field = families[measurement] = {}
            for field, value in sample.fields.items():
                family = by_field.get(field)
                if family is None:
                    family = _Family(measurement, field)
                    family = by_field[field] = by_name.setdefault(family.sample_name, family)
                number = value if type(value) is float else _number(value)
                if number is None:
                    continue
                # floatToGoString differs from repr() only for NaN, infinities and values >= 1e6;
                # bytes %r is ascii(), which is repr() for a float.
                if _NEG_INF < number < 1e6:
                    family.lines.append(b"%s%s %r\n" % (family.sample_name_bytes, head, number))
                else:
                    family.lines.append(b"%s%s %s\n" % (family.sample_name_bytes, head,
                                                          floatToGoString(number).encode("ascii")))
        chunks = []
        for family in by_name.values():
            chunks.append(family.header().encode("utf-8"))
            chunks.append(b"".join(family.lines))
            family.lines = []
        return b"".join(chunks)

    def _selected(self) -> Iterable[Sample]:
        samples = self.store.snapshot()
        if self.area is None:
            return samples
        level, name = self.area
        return [sample for sample in samples if sample.tag(level) == name]

    def _plan(self, tags: Tags) -> _Plan:
        keys = tuple([key for key, _ in tags])
        plan = self._plans.get(keys)
        if plan is None:
            chosen: dict[str, int] = {}
            for index, key in enumerate(keys):
                name = label_name(key)
                if name and name not in chosen:
                    chosen[name] = index
            plan = self._plans[keys] = tuple((index, name) for name, index in sorted(chosen.items()))
        return plan


def _escape_value(value: str) -> str:
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r'\"')


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


class SampleRegistry(CollectorRegistry):
    """A CollectorRegistry that remembers its collectors in order, so render() can take the fast
    path for SampleCollectors and ask prometheus_client for everything else."""

    def __init__(self) -> None:
        super().__init__()
        self._ordered: list[Collector] = []
        self._ordered_lock = threading.Lock()

    def register(self, collector: Collector) -> None:
        super().register(collector)
        with self._ordered_lock:
            self._ordered.append(collector)

    def unregister(self, collector: Collector) -> None:
        super().unregister(collector)
        with self._ordered_lock:
            self._ordered.remove(collector)

    def collectors(self) -> list[Collector]:
        with self._ordered_lock:
            return list(self._ordered)


def make_registry(store: LatestSamples, area: tuple[str, str] | None = None) -> SampleRegistry:
    """The project's own registry (never prometheus_client's global REGISTRY)."""
    registry = SampleRegistry()
    registry.register(SampleCollector(store, area))
    return registry


def render(registry: CollectorRegistry) -> bytes:
    """The text exposition (format 0.0.4) of a registry, byte-identical to generate_latest()."""
    if not isinstance(registry, SampleRegistry) or registry.get_target_info():
        return generate_latest(registry)
    parts = []
    for collector in registry.collectors():
        if isinstance(collector, SampleCollector):
            parts.append(collector.render_text())
        else:
            parts.append(generate_latest(collector))
    return b"".join(parts)
