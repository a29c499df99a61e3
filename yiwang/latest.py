"""The latest samples as the runtime, the API and /metrics see them.

Each poll result replaces everything its device and collector said last time, so an interface that disappears,
or a poll-health reason that changed, leaves no stale series behind; a failed poll leaves only its health samples,
as a failed snmp_exporter scrape leaves only `up` (and a dual-stack device's `snmp_ipv6`, measured on its own).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from collectors.model import Sample, Tags
from yiwang.sinks.prometheus import LatestSamples, SampleCollector, SampleRegistry, render


class LatestStore(LatestSamples):
    def __init__(self) -> None:
        super().__init__()
        self._owned: dict[tuple[str, str], list[tuple[str, Tags]]] = {}

    def replace(self, device: str, collector: str, samples: Sequence[Sample]) -> None:
        keys = [(s.measurement, s.tags) for s in samples]
        with self._lock:
            for key in self._owned.pop((device, collector), ()):
                self._series.pop(key, None)
            self._series.update(zip(keys, samples, strict=True))
            self._owned[(device, collector)] = keys

    def device_samples(self, device: str) -> list[Sample]:
        with self._lock:
            keys = [k for (name, _), owned in self._owned.items() if name == device for k in owned]
            return [self._series[k] for k in keys if k in self._series]

    def has_series(self, sample: Sample) -> bool:
        with self._lock:
            return (sample.measurement, sample.tags) in self._series

    def completed(self, sample: Sample) -> Sample:
        """A partial sample (a trap's: device and ifIndex only) as the one known series whose tags include all
        of its tags, with the new fields merged in; unchanged when none or several match."""
        wanted = set(sample.tags)
        found = [s for s in self.device_samples(sample.tag("device"))
                 if s.measurement == sample.measurement and wanted <= set(s.tags)]
        if len(found) != 1:
            return sample
        known = found[0]
        return Sample(known.measurement, known.tags, {**known.fields, **sample.fields}, sample.time_ns)

    def render(self, area_path: Mapping[str, str] | None = None) -> bytes:
        registry = SampleRegistry()
        registry.register(AreaCollector(self, area_path))
        return render(registry)


class AreaCollector(SampleCollector):
    """Only the series under one area: every level of its path must match, since names repeat across parents."""

    def __init__(self, store: LatestSamples, area_path: Mapping[str, str] | None) -> None:
        super().__init__(store)
        self.area_path = tuple((area_path or {}).items())

    def _selected(self) -> Iterable[Sample]:
        samples = self.store.snapshot()
        if not self.area_path:
            return samples
        path = self.area_path
        return [s for s in samples if all(s.tag(level) == name for level, name in path)]
