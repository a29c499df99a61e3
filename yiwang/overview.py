"""Pure: the one-screen overview (issue 14) from the state the runtime already holds: poll health counted per
area, the alert engine's records, the compliance and capacity samples of their last runs, the active change jobs.

Nothing here reads a store or the network; the feed (yiwang.overview_feed) and the API hand the state in.
Device-supplied strings are passed through as data: the page renders them as text.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from alerts.rules import SEVERITIES
from alerts.topology import OUTAGE_RULE
from collectors.model import Sample
from inventory.model import Inventory, Level
from yiwang.status import DeviceState, device_status

TOP_ALERTS = 20
HOT_LINKS = 10
ACTIVE = ("pending", "firing")


class AlertLike(Protocol):
    """What the overview reads of an alert engine record (alerts.state.AlertRecord), read-only."""

    @property
    def fingerprint(self) -> str: ...

    @property
    def rule(self) -> str: ...

    @property
    def severity(self) -> str: ...

    @property
    def labels(self) -> dict[str, str]: ...

    @property
    def annotations(self) -> dict[str, str]: ...

    @property
    def status(self) -> str: ...

    @property
    def active_since_ns(self) -> int | None: ...

    @property
    def firing_since_ns(self) -> int | None: ...

    @property
    def value(self) -> float | None: ...

    @property
    def flapping(self) -> bool: ...

    @property
    def suppressed_by(self) -> str | None: ...

    @property
    def affected(self) -> list[dict[str, str]]: ...

    @property
    def counts(self) -> dict[str, int]: ...


AreasOf = Callable[[Mapping[str, str]], set[str]]  # alerts.topology.Topology.areas_of


# --- devices and areas ----------------------------------------------------------------------------------------

def overview_status(results: Mapping[str, DeviceState]) -> str:
    """up | down | unknown: a device some way in still answers (ICMP with SNMP failing) is reachable, so up;
    what fails on it is an alert, which makes its area degraded."""
    status = device_status(results)
    return "up" if status == "degraded" else status


def device_statuses(inv: Inventory, states: Mapping[str, Mapping[str, DeviceState]]) -> dict[str, str]:
    return {name: overview_status(states.get(name, {})) for name in inv.devices}


def firing_alerts(records: Iterable[AlertLike]) -> list[AlertLike]:
    """Firing alerts as an operator counts them: one per storm (what an outage swallowed is not counted again)."""
    return [r for r in records if r.status == "firing" and not r.suppressed_by]


def alerts_by_area(inv: Inventory, firing: Iterable[AlertLike], areas_of: AreasOf) -> dict[str, int]:
    """Firing alerts in each area's subtree, each alert counted once per area above it."""
    counts: dict[str, int] = {}
    for record in firing:
        above: set[str] = set()
        for area in areas_of(record.labels):
            current: str | None = area
            while current is not None and current not in above and current in inv.areas:
                above.add(current)
                current = inv.areas[current].parent
        for area in above:
            counts[area] = counts.get(area, 0) + 1
    return counts


def alerts_by_device(firing: Iterable[AlertLike]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for record in firing:
        device = record.labels.get("device")
        if device:
            counts[device] = counts.get(device, 0) + 1
    return counts


def area_status(devices: int, down: int, unknown: int, alerts: int) -> str:
    """down: every polled device of the subtree down; degraded: some down or a firing alert; up: all up;
    unknown: nothing polled yet (or no device at all)."""
    polled = devices - unknown
    if polled <= 0:
        return "unknown"
    if down == polled:
        return "down"
    if down > 0 or alerts > 0:
        return "degraded"
    return "up"


def area_rows(inv: Inventory, counts: Mapping[str, Mapping[str, int]],
              alerts: Mapping[str, int]) -> list[dict[str, Any]]:
    """Every area, parents before children (by level, then id). `counts`: yiwang.status.area_counts' shape."""
    rows = []
    for area in sorted(inv.areas.values(), key=lambda a: (a.level, a.id)):
        count = counts.get(area.id, {})
        total, down, unknown = count.get("total", 0), count.get("down", 0), count.get("unknown", 0)
        up = count.get("up", 0) + count.get("degraded", 0)
        firing = alerts.get(area.id, 0)
        rows.append({"id": area.id, "parent": area.parent, "level": area.level.label, "name": area.name,
                     "code": getattr(area, "code", None), "status": area_status(total, down, unknown, firing),
                     "devices": total, "up": up, "down": down, "unknown": unknown, "alerts": firing})
    return rows


def root_area(inv: Inventory) -> str | None:
    """The city: the one area at city level (the top area when there is none, or several)."""
    cities = [a.id for a in inv.areas.values() if a.level == Level.CITY]
    if len(cities) == 1:
        return cities[0]
    tops = sorted(a.id for a in inv.areas.values() if a.parent is None)
    return tops[0] if tops else None


def device_rows(inv: Inventory, statuses: Mapping[str, str], alerts: Mapping[str, int],
                area: str) -> list[dict[str, Any]]:
    inside = inv.subtree(area)
    return [{"name": d.name, "area": d.area, "platform": d.platform, "role": d.role,
             "status": statuses.get(d.name, "unknown"), "alerts": alerts.get(d.name, 0)}
            for d in sorted(inv.devices.values(), key=lambda d: d.name) if d.area in inside]


# --- alerts ---------------------------------------------------------------------------------------------------

def iso(time_ns: int | None) -> str | None:
    return datetime.fromtimestamp(time_ns / 1e9, UTC).isoformat() if time_ns is not None else None


def alert_view(record: AlertLike, areas_of: AreasOf) -> dict[str, Any]:
    """The shape /api/alerts answers, with the alert's area (the deepest it names) and its times as ISO 8601."""
    areas = sorted(areas_of(record.labels), key=lambda a: (-a.count("."), a))
    return {"fingerprint": record.fingerprint, "rule": record.rule, "severity": record.severity,
            "status": record.status, "labels": dict(record.labels), "annotations": dict(record.annotations),
            "value": record.value, "flapping": record.flapping, "suppressed_by": record.suppressed_by,
            "active_since_ns": record.active_since_ns, "firing_since_ns": record.firing_since_ns,
            "since": iso(record.firing_since_ns or record.active_since_ns),
            "area": areas[0] if areas else None, "counts": dict(record.counts)}


def _rank(record: AlertLike) -> tuple[int, int, int, str]:
    severity = SEVERITIES.index(record.severity) if record.severity in SEVERITIES else len(SEVERITIES)
    return (0 if record.status == "firing" else 1, severity, -(record.firing_since_ns or record.active_since_ns
                                                               or 0), record.fingerprint)


def alerts_summary(inv: Inventory, records: Iterable[AlertLike], counts: Mapping[str, Mapping[str, int]],
                   areas_of: AreasOf) -> dict[str, Any]:
    """Firing and pending counts (a storm counts once), each area outage with what it swallowed, and the top 20
    of the rest (firing first, then by severity, newest first)."""
    active = [r for r in records if r.status in ACTIVE]
    swallowed: dict[str, int] = {}
    for record in active:
        if record.suppressed_by:
            swallowed[record.suppressed_by] = swallowed.get(record.suppressed_by, 0) + 1
    shown = [r for r in active if not r.suppressed_by]
    outages = []
    for record in sorted((r for r in shown if r.rule == OUTAGE_RULE), key=_rank):
        area = record.labels.get("area", "")
        known = inv.areas.get(area)
        outages.append({"area": area, "name": known.name if known else area, "status": record.status,
                        "devices_down": counts.get(area, {}).get("down", 0),
                        "alerts_suppressed": swallowed.get(record.fingerprint, 0),
                        "since": iso(record.firing_since_ns or record.active_since_ns)})
    rest = sorted((r for r in shown if r.rule != OUTAGE_RULE), key=_rank)[:TOP_ALERTS]
    return {"firing": sum(r.status == "firing" for r in shown), "pending": sum(r.status == "pending" for r in shown),
            "outages": outages, "top": [alert_view(r, areas_of) for r in rest]}


# --- what changed since the last state (the stream) -----------------------------------------------------------

def changed_devices(old: Mapping[str, str], new: Mapping[str, str], inv: Inventory) -> list[dict[str, str]]:
    """Devices whose status is not what it was; a plain dict walk (a city's 4,387 devices: about a millisecond)."""
    return [{"name": name, "area": inv.devices[name].area, "status": status}
            for name, status in new.items() if old.get(name) != status and name in inv.devices]


def changed_areas(old: Mapping[str, Mapping[str, Any]], new: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [dict(row) for row in new if old.get(row["id"]) != row]


# --- panels ---------------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Rollout:
    """An active change job and the states of its devices (yiwang.change.jobs: ok, failed, ...)."""

    job: str
    kind: str
    area: str
    state: str
    devices: Mapping[str, str]  # device -> state


FAILED_CHANGE = frozenset({"needs-person", "precheck-failed", "failed"})
KIND_TITLES = {"ipv6": "IPv6 开通 / IPv6 rollout", "bandwidth": "带宽调整 / bandwidth change"}


def county_of(inv: Inventory, area: str) -> str | None:
    return next((a.id for a in inv.path(area) if a.level == Level.COUNTY), None) if area in inv.areas else None


def rollout_panel(inv: Inventory, rollouts: Iterable[Rollout]) -> list[dict[str, Any]]:
    out = []
    for rollout in rollouts:
        per: dict[str, dict[str, int]] = {}
        for device, state in rollout.devices.items():
            found = inv.devices.get(device)
            county = (county_of(inv, found.area) if found else None) or "-"
            row = per.setdefault(county, {"done": 0, "failed": 0, "total": 0})
            row["total"] += 1
            row["done"] += state == "ok"
            row["failed"] += state in FAILED_CHANGE
        area = inv.areas.get(rollout.area)
        title = f"{KIND_TITLES.get(rollout.kind, rollout.kind)}: {area.name if area else rollout.area}"
        out.append({"job": rollout.job, "title": title, "state": rollout.state,
                    "counties": [{"area": c, "name": inv.areas[c].name if c in inv.areas else c, **row}
                                 for c, row in sorted(per.items())]})
    return out


def _county_index(inv: Inventory) -> dict[tuple[tuple[str, str], ...], str]:
    """The compliance samples name areas by their path of names (names repeat; paths do not)."""
    return {tuple(sorted(inv.path_labels(a.id).items())): a.id for a in inv.areas.values()
            if a.level == Level.COUNTY}


def compliance_panel(inv: Inventory, samples: Iterable[Sample], titles: Mapping[str, str]) -> dict[str, Any]:
    """From the last run's `compliance` samples (per area and rule: failed, checked devices): per county the
    results (device x rule) passed and failed; per rule the devices failing it, most first."""
    counties = _county_index(inv)
    levels = [level.label for level in Level if level <= Level.COUNTY]
    by_county: dict[str, dict[str, int]] = {}
    by_rule: dict[str, int] = {}
    for sample in samples:
        if sample.measurement != "compliance" or sample.tag("township") or not sample.tag("county"):
            continue
        county = counties.get(tuple(sorted((k, v) for k, v in sample.tags if k in levels)))
        if county is None:
            continue
        failed, checked = int(sample.fields.get("failed", 0)), int(sample.fields.get("checked", 0))
        row = by_county.setdefault(county, {"passed": 0, "failed": 0})
        row["passed"] += max(checked - failed, 0)
        row["failed"] += failed
        rule = sample.tag("rule")
        by_rule[rule] = by_rule.get(rule, 0) + failed
    return {"by_county": [{"area": c, "name": inv.areas[c].name, **row} for c, row in sorted(by_county.items())],
            "by_rule": [{"rule": r, "title": titles.get(r, r), "failed": n}
                        for r, n in sorted(by_rule.items(), key=lambda item: (-item[1], item[0]))]}


def capacity_panel(inv: Inventory, samples: Iterable[Sample]) -> dict[str, Any]:
    """The hot list from the last computed `link` samples (yiwang.capacity.samples): per link the busier
    direction's 30-day p95 and the nearer crossing of 90 % of the contract. (The carriers panel is their SLA
    figures: yiwang.capacity.sla_panel.)"""
    areas = {(link.local.device, link.local.interface): link.area for link in inv.links}
    links: dict[tuple[str, str], dict[str, Any]] = {}
    for sample in samples:
        if sample.measurement != "link":
            continue
        key = (sample.tag("device"), sample.tag("interface"))
        row = links.setdefault(key, {"link": f"{key[0]} {key[1]}", "device": key[0], "interface": key[1],
                                     "area": areas.get(key), "carrier": sample.tag("carrier"),
                                     "p95_30d_pct": None, "days_to_90": None})
        if "p95_ratio" in sample.fields and sample.tag("window") == "30d":
            pct = round(sample.fields["p95_ratio"] * 100, 1)
            row["p95_30d_pct"] = pct if row["p95_30d_pct"] is None else max(pct, row["p95_30d_pct"])
        if "days_to_saturation" in sample.fields and sample.tag("threshold") == "90":
            days = sample.fields["days_to_saturation"]
            row["days_to_90"] = days if row["days_to_90"] is None else min(days, row["days_to_90"])
    ranked = sorted(links.values(), key=lambda r: (-(r["p95_30d_pct"] or 0.0),
                                                   r["days_to_90"] if r["days_to_90"] is not None else 1e18,
                                                   r["link"]))
    return {"hot": ranked[:HOT_LINKS]}
