"""The latest compliance run as samples, so that Prometheus, InfluxDB, Grafana and the alert rules see it like any
polled value: they flow through the pipeline (latest store, sinks, alerts) as `yiwang.archive.ages` does.

- `compliance` per area from the top down to township level and rule, tagged with the area's path and `rule`:
  `failed` (devices failing the rule in the area's subtree) and `checked` (devices the rule was judged on there:
  pass or fail; not-applicable, exempt and error are neither). Prometheus: `yiwang_compliance_failed{rule, province,
  city, county, township}`.
- `compliance_device` per device for the rules whose pack severity is high or critical: `failed` 0 or 1 and
  `newly_failed` 1 when the run is the first to find it failing since the previous run (the alert's input: a device
  that newly fails pages once; the first run is the baseline, and a city's standing failures are a report, not a
  storm of alerts), tagged with
  the device's tags, `check` (the catalogue id) and `check_severity`. Not `rule` and `severity`: in an alert those
  two name the alert rule and the alert's severity, and the annotations could no longer name the failing check.
- `ipv6_readiness` per county: `ready_ratio` (the share of its villages ready), `villages` and `ready`; a county
  with no village holding a network device has no ratio.

The area samples belong to no device: they travel as one result of device "" (as the cycle and sink figures do).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

from collectors.base import PollResult, PollTarget
from collectors.model import Sample, Tags
from inventory.model import Inventory, Level
from yiwang.compliance.history import StoredResult
from yiwang.compliance.ipv6 import CountyReadiness

ALERTED = ("high", "critical")  # the pack severities whose failures are per-device series


@dataclass(frozen=True, slots=True)
class ComplianceSamples:
    by_device: Mapping[str, list[Sample]]
    areas: list[Sample]  # compliance per area and rule, ipv6_readiness per county


def area_samples(inventory: Inventory, results: Iterable[StoredResult], rules: Sequence[str],
                 time_ns: int) -> list[Sample]:
    """`compliance` for every area down to township level that holds a checked device, and every rule."""
    failed: dict[tuple[str, str], set[str]] = {}
    checked: dict[tuple[str, str], set[str]] = {}
    areas: set[str] = set()
    for result in results:
        for area in result.area_path:
            known = inventory.areas.get(area)
            if known is None or known.level > Level.TOWNSHIP:
                continue
            areas.add(area)
            if result.status in ("pass", "fail"):
                checked.setdefault((area, result.rule), set()).add(result.device)
            if result.status == "fail":
                failed.setdefault((area, result.rule), set()).add(result.device)
    out = []
    for area in sorted(areas):
        path = inventory.path_labels(area)
        for rule in rules:
            tags = tuple(sorted({**path, "rule": rule}.items()))
            out.append(Sample("compliance", tags, {"failed": float(len(failed.get((area, rule), ()))),
                                                   "checked": float(len(checked.get((area, rule), ())))}, time_ns))
    return out


def device_samples(targets: Iterable[PollTarget], results: Iterable[StoredResult], severities: Mapping[str, str],
                   time_ns: int, newly: Collection[tuple[str, str]] = ()) -> dict[str, list[Sample]]:
    """`compliance_device` per target device and alerted rule it has a result for; `severities`: the pack's, by
    rule id (a label that moved with each finding would start a new series)."""
    by_device: dict[str, list[StoredResult]] = {}
    for result in results:
        if severities.get(result.rule) in ALERTED:
            by_device.setdefault(result.device, []).append(result)
    out: dict[str, list[Sample]] = {}
    for target in targets:
        out[target.device] = [
            Sample("compliance_device", _with(target.tags, check=r.rule, check_severity=severities[r.rule]),
                   {"failed": 1.0 if r.status == "fail" else 0.0,
                    "newly_failed": 1.0 if r.status == "fail" and (r.device, r.rule) in newly else 0.0}, time_ns)
            for r in by_device.get(target.device, ())]
    return out


def readiness_samples(inventory: Inventory, counties: Iterable[CountyReadiness], time_ns: int) -> list[Sample]:
    out = []
    for county in counties:
        fields = {"villages": float(county.villages), "ready": float(county.ready)}
        if county.share is not None:
            fields["ready_ratio"] = county.share
        out.append(Sample("ipv6_readiness", tuple(sorted(inventory.path_labels(county.county).items())), fields,
                          time_ns))
    return out


def _with(tags: Tags, **more: str) -> Tags:
    return tuple(sorted({**dict(tags), **more}.items()))


class ComplianceCollector:
    """A periodic source over `latest()`: the samples of the newest run (None: no run yet)."""

    name = "compliance"

    def __init__(self, latest: Callable[[], ComplianceSamples | None]) -> None:
        self.latest = latest

    async def collect(self, targets: Sequence[PollTarget]) -> AsyncIterator[PollResult]:
        found = await asyncio.to_thread(self.latest)  # SQL and the archive: off the event loop
        if found is None:
            return
        for target in targets:
            yield PollResult(target.device, self.name, list(found.by_device.get(target.device, [])), True)
        yield PollResult("", self.name, list(found.areas), True)

    async def close(self) -> None:
        return None
