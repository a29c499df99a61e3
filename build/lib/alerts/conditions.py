"""Which alert conditions hold in one cycle: rules x samples -> {fingerprint: Active}. Pure but for `state`
history, which the caller owns (a copy)."""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from alerts.rules import Condition, Rule
from alerts.state import EngineState, fingerprint
from alerts.topology import Topology
from collectors.model import Sample
from inventory.model import LEVELS, Link

OPS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le, "==": operator.eq, "!=": operator.ne,
}
# Not identity: the reason of a failed poll changes while the device stays down; the area path is in `area`.
VOLATILE = frozenset({"reason", *LEVELS})


@dataclass(slots=True)
class Active:
    rule: str
    identity: dict[str, str]
    labels: dict[str, str]
    value: float | None = None
    threshold: float | None = None


@dataclass(slots=True)
class _Group:
    identity: dict[str, str]
    labels: dict[str, str]
    truths: list[bool] = field(default_factory=list)
    value: float | None = None
    threshold: float | None = None


def index(samples: Sequence[Sample]) -> dict[str, list[Sample]]:
    found: dict[str, list[Sample]] = {}
    for sample in samples:
        found.setdefault(sample.measurement, []).append(sample)
    return found


def conditions(rule: Rule, by_measurement: Mapping[str, list[Sample]], topology: Topology, state: EngineState,
               now_ns: int) -> dict[str, Active]:
    if rule.kind == "absent":
        return _absent(rule, by_measurement, topology, state, now_ns)
    if rule.kind in ("rate", "delta"):
        return _change(rule, by_measurement, topology, state, now_ns)
    found = _holding(rule, _groups(rule, rule, by_measurement, topology))
    for extra in rule.also:
        also = _holding(rule, _groups(rule, extra, by_measurement, topology))
        found = {fp: active for fp, active in found.items() if fp in also}
    return found


def _holding(rule: Rule | Condition, groups: Mapping[str, _Group]) -> dict[str, Active]:
    pick = any if rule.quantifier == "any" else all
    name = rule.name if isinstance(rule, Rule) else ""
    return {fp: Active(name, g.identity, g.labels, g.value, g.threshold)
            for fp, g in groups.items() if g.truths and pick(g.truths)}


def _groups(rule: Rule, cond: Rule | Condition, by_measurement: Mapping[str, list[Sample]],
            topology: Topology) -> dict[str, _Group]:
    compare = OPS[cond.op]
    groups: dict[str, _Group] = {}
    for sample, link in _matching(rule, cond.measurement, cond.match, by_measurement, topology):
        values = [sample.fields[f] for f in cond.fields if f in sample.fields]
        if not values or cond.value is None:
            continue
        limit = cond.value
        if rule.relative_to == "link_bandwidth" and link is not None and isinstance(cond, Rule):
            limit = cond.value * link.bandwidth_mbps * 1e6
        hits = [v for v in values if compare(v, limit)]
        if not hits and cond.quantifier == "any":  # cannot make an `any` group true: skip the labelling
            continue
        identity, labels = _identify(rule, sample, link, topology)
        fp = fingerprint(rule.name, identity)
        group = groups.get(fp)
        if group is None:
            group = groups[fp] = _Group(identity, labels, threshold=limit)
        group.truths.append(bool(hits))
        if hits and group.value is None:
            group.value = max(hits) if cond.op in (">", ">=") else hits[0]
    return groups


def _matching(rule: Rule, measurement: str, match: Mapping[str, str], by_measurement: Mapping[str, list[Sample]],
              topology: Topology) -> list[tuple[Sample, Link | None]]:
    found: list[tuple[Sample, Link | None]] = []
    for sample in by_measurement.get(measurement, ()):
        if match and any(sample.tag(k) != v for k, v in match.items()):
            continue
        link = None
        if rule.on_link:
            link = topology.link_at(sample.tag("device"), sample.tag("interface"))
            if link is None:
                continue
        found.append((sample, link))
    return found


def _identify(rule: Rule, sample: Sample, link: Link | None, topology: Topology) -> tuple[dict[str, str],
                                                                                         dict[str, str]]:
    tags = {k: v for k, v in sample.tags if k not in VOLATILE}
    if link is not None:
        tags["link"] = link.area
    if rule.group_by is not None:
        identity = {k: tags.get(k, "") for k in rule.group_by}
    elif link is not None:
        identity = {"link": link.area}
    else:
        identity = tags
    labels = dict(tags)
    area = link.area if link is not None else topology.device_area.get(tags.get("device", ""), "")
    labels.update(topology.area_labels(area))
    if link is not None:
        labels["bandwidth_mbps"] = f"{link.bandwidth_mbps:g}"
    labels.update(rule.labels)
    return identity, labels


def _change(rule: Rule, by_measurement: Mapping[str, list[Sample]], topology: Topology, state: EngineState,
            now_ns: int) -> dict[str, Active]:
    window_ns = rule.window_s * 1e9
    compare = OPS[rule.op]
    name = rule.fields[0]
    found: dict[str, Active] = {}
    seen: set[str] = set()
    for sample, link in _matching(rule, rule.measurement, rule.match, by_measurement, topology):
        if name not in sample.fields:
            continue
        identity, labels = _identify(rule, sample, link, topology)
        fp = fingerprint(rule.name, identity)
        if fp in seen:
            continue
        seen.add(fp)
        key = f"{rule.name}:{fp}"
        points = [p for p in state.history.get(key, []) if p[0] >= now_ns - window_ns]
        points.append([float(sample.time_ns), sample.fields[name]])
        state.history[key] = points
        change = points[-1][1] - points[0][1]
        elapsed = (points[-1][0] - points[0][0]) / 1e9
        if len(points) < 2 or change < 0 or elapsed <= 0:  # too early, or a counter reset
            continue
        value = change / elapsed if rule.kind == "rate" else change
        if rule.value is not None and compare(value, rule.value):
            found[fp] = Active(rule.name, identity, labels, value, rule.value)
    for key in [k for k in state.history if k.startswith(rule.name + ":") and k[len(rule.name) + 1:] not in seen]:
        kept = [p for p in state.history[key] if p[0] >= now_ns - window_ns]
        if kept:
            state.history[key] = kept
        else:
            del state.history[key]
    return found


def _absent(rule: Rule, by_measurement: Mapping[str, list[Sample]], topology: Topology, state: EngineState,
            now_ns: int) -> dict[str, Active]:
    seen = state.last_seen.setdefault(rule.name, {})
    for sample, link in _matching(rule, rule.measurement, rule.match, by_measurement, topology):
        identity, labels = _identify(rule, sample, link, topology)
        fp = fingerprint(rule.name, identity)
        seen[fp] = (labels, max(sample.time_ns, seen[fp][1] if fp in seen else 0))
    for fp in [fp for fp, (labels, _) in seen.items() if labels.get("device", "") not in topology.device_area
               and "device" in labels]:
        del seen[fp]  # left the inventory: its silence is expected, not an alert
    found = {}
    for fp, (labels, last_ns) in seen.items():
        silent_s = (now_ns - last_ns) / 1e9
        if silent_s > rule.for_s:
            identity = {k: labels.get(k, "") for k in (rule.group_by or ("device",))}
            found[fp] = Active(rule.name, identity, labels, silent_s, rule.for_s)
    return found
