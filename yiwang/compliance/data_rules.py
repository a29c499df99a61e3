"""The catalogue's rules read from yiwang's own data: backup freshness, uplink capacity and uplink redundancy.

Each rule is a pure function from plain inputs to a `RuleResult`; the readers beside them (the archive index, the
metric history, the inventory) only gather those inputs. A source that cannot be read gives `error`, never pass.
(`firmware-advisory` is in `advisories.py`.)
"""

from __future__ import annotations

import json
import math
import re
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Protocol

from collectors.platforms import cli_of
from inventory.model import Inventory, Level, Link
from yiwang.archive.index import BackupStatus
from yiwang.compliance.model import Evidence, RuleResult

BACKUP_RULE = "config-backup-fresh"
CAPACITY_RULE = "uplink-capacity"
REDUNDANCY_RULE = "uplink-redundancy"

# A timestamp this far ahead of the checker's clock is a clock problem, not a fresh backup.
CLOCK_SKEW_S = 300.0


# --- config-backup-fresh (8.1.4.9a) -------------------------------------------------------------------------------

def config_backup_fresh(status: BackupStatus | None, now_s: float, max_age_h: float = 24.0) -> RuleResult:
    """Pass when the last GOOD backup is younger than `max_age_h` hours (exactly `max_age_h` fails).

    The archive index keeps `last_ok_at` as Unix seconds and never clears it on a failure, so a device whose
    backups fail keeps its old good time and ages out here."""
    if status is None or status.last_ok_at is None:
        detail = "never backed up"
        if status is not None and status.last_reason != "ok":
            detail += f"; last attempt {_stamp(status.last_attempt_at)}: {_failure(status)}"
        return RuleResult(BACKUP_RULE, "fail", detail=detail)
    age_s = now_s - status.last_ok_at
    if age_s < -CLOCK_SKEW_S:
        return RuleResult(BACKUP_RULE, "error", detail=f"last good backup at {_stamp(status.last_ok_at)} is "
                                                        f"{_hours(-age_s)} h ahead of this clock")
    age_s = max(age_s, 0.0)
    detail = f"last good backup {_hours(age_s)} h ago ({_stamp(status.last_ok_at)})"
    if age_s < max_age_h * 3600.0:
        return RuleResult(BACKUP_RULE, "pass", detail=detail)
    if status.last_reason != "ok":
        detail += f"; last attempt {_stamp(status.last_attempt_at)}: {_failure(status)}"
    return RuleResult(BACKUP_RULE, "fail", detail=detail)


class BackupIndex(Protocol):
    """What the rule needs of `yiwang.archive.index.ArchiveIndex`."""

    def status(self) -> dict[str, BackupStatus]: ...


def backup_results(index: BackupIndex, devices: Iterable[str], now_s: float,
                   max_age_h: float = 24.0) -> dict[str, RuleResult]:
    """The rule for each device; every device gets `error` when the index cannot be read."""
    names = list(devices)
    try:
        statuses = index.status()
    except Exception as exc:  # noqa: BLE001 - any failure of the store is the rule's `error`, never an exception
        reason = f"the archive index could not be read: {type(exc).__name__}: {exc}"
        return {name: RuleResult(BACKUP_RULE, "error", detail=reason) for name in names}
    return {name: config_backup_fresh(statuses.get(name), now_s, max_age_h) for name in names}


def _failure(status: BackupStatus) -> str:
    return f"{status.last_reason} ({status.last_error})" if status.last_error else status.last_reason


def _stamp(at_s: float) -> str:
    return datetime.fromtimestamp(at_s, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _hours(seconds: float) -> str:
    """Whole hours when whole, else one decimal: 23.96 h must not print as a failing "24 h"."""
    hours = seconds / 3600.0
    return f"{hours:.0f}" if abs(hours - round(hours)) < 0.05 else f"{hours:.1f}"


# --- uplink-capacity (8.1.2.1b) -----------------------------------------------------------------------------------

SAMPLE_S = 300.0
WEEK_S = 7 * 86400.0
WEEK_SAMPLES = int(WEEK_S // SAMPLE_S)  # 2016 five-minute samples


def p95(values: Sequence[float]) -> float:
    """The 95th percentile by nearest rank: the smallest value with at least 95 % of the values at or below it,
    i.e. the ceil(0.95 n)-th smallest. Always one of the values (no interpolation), as carriers bill it."""
    if not values:
        raise ValueError("the 95th percentile of no values")
    ordered = sorted(values)
    rank = math.ceil(0.95 * len(ordered) - 1e-9)  # 0.95 * 20 is 19.000000000000004 in floating point
    return ordered[max(rank, 1) - 1]


def uplink_capacity(samples_bps: Sequence[float], bandwidth_mbps: float, threshold: float = 0.70,
                    min_samples: int = WEEK_SAMPLES, source: str = "") -> RuleResult:
    """Pass when the p95 of the five-minute samples (each the larger of in and out, bit/s) is BELOW
    `threshold` x the contracted bandwidth; exactly at the threshold fails. Fewer than `min_samples` usable
    samples is `error`: a partial week proves nothing."""
    where = f" ({source})" if source else ""
    usable = [v for v in samples_bps if math.isfinite(v) and v >= 0]
    if bandwidth_mbps <= 0 or not math.isfinite(bandwidth_mbps):
        return RuleResult(CAPACITY_RULE, "error",
                          detail=f"the uplink's contracted bandwidth is {bandwidth_mbps} Mbit/s in the inventory")
    if len(usable) < min_samples:
        return RuleResult(CAPACITY_RULE, "error",
                          detail=f"only {len(usable)} samples of the {min_samples} a week needs{where}")
    peak = p95(usable)
    limit = threshold * bandwidth_mbps * 1e6
    detail = (f"p95 {peak / 1e6:.1f} Mbit/s = {peak / (bandwidth_mbps * 1e6):.1%} of {bandwidth_mbps:g} Mbit/s "
              f"(limit {threshold:.0%}) over {len(usable)} five-minute samples{where}")
    return RuleResult(CAPACITY_RULE, "pass" if peak < limit else "fail", detail=detail)


def five_minute_peaks(in_points: Iterable[tuple[float, float]], out_points: Iterable[tuple[float, float]],
                      start_s: float, end_s: float) -> list[float]:
    """The larger of in and out per five-minute window in [start_s, end_s): each direction's mean of the
    (time s, bit/s) points in the window. A window where only one direction has points uses that one; a window
    with none gives no sample (so a monitoring gap shows as too few samples, never as an idle link)."""
    sums: dict[int, list[float]] = {}
    for column, points in ((0, in_points), (2, out_points)):
        for at, value in points:
            if not (start_s <= at < end_s) or not math.isfinite(value):
                continue
            window = sums.setdefault(int((at - start_s) // SAMPLE_S), [0.0, 0.0, 0.0, 0.0])
            window[column] += value
            window[column + 1] += 1
    return [max(w[0] / w[1] if w[1] else 0.0, w[2] / w[3] if w[3] else 0.0) for _, w in sorted(sums.items())]


class UtilisationHistory(Protocol):
    """The five-minute samples (bit/s, the larger of in and out) of one interface between two times."""

    name: str  # said in the rule's detail: where the samples came from

    def samples(self, device: str, interface: str, start_s: float, end_s: float) -> list[float]: ...


class VictoriaMetricsHistory:
    """The `interface` rates the sinks write (`in_bps`/`out_bps` fields of the SNMP poller's `interface`
    measurement, stored by a VictoriaMetrics behind the InfluxDB write API as `interface_in_bps` and
    `interface_out_bps`, labelled `device` and `interface`), read raw through its export API and averaged here per
    five minutes. Until the metric history of issue 13 exists this is the only week of rates yiwang keeps:
    LatestStore holds one sample per series, and a real InfluxDB is written to but never read."""

    name = "VictoriaMetrics export of interface_in_bps/interface_out_bps"

    def __init__(self, url: str, timeout_s: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s

    def samples(self, device: str, interface: str, start_s: float, end_s: float) -> list[float]:
        points = {name: self._export(f"interface_{name}", device, interface, start_s, end_s)
                  for name in ("in_bps", "out_bps")}
        return five_minute_peaks(points["in_bps"], points["out_bps"], start_s, end_s)

    def _export(self, metric: str, device: str, interface: str, start_s: float,
                end_s: float) -> list[tuple[float, float]]:
        selector = f'{metric}{{device="{_label(device)}",interface="{_label(interface)}"}}'
        query = urllib.parse.urlencode({"match[]": selector, "start": f"{start_s:.3f}", "end": f"{end_s:.3f}"})
        with urllib.request.urlopen(f"{self.url}/api/v1/export?{query}", timeout=self.timeout_s) as response:  # noqa: S310 - the operator's URL
            body = response.read().decode()
        points: list[tuple[float, float]] = []
        for line in body.splitlines():
            if line.strip():
                series = json.loads(line)
                points.extend((t / 1000.0, float(v)) for t, v in zip(series["timestamps"], series["values"],
                                                                     strict=True))
        return points


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def capacity_result(history: UtilisationHistory, link: Link, now_s: float, threshold: float = 0.70,
                    min_samples: int = WEEK_SAMPLES) -> RuleResult:
    """The rule for the lower end of `link` (the area's gateway, on its uplink interface)."""
    try:
        samples = history.samples(link.local.device, link.local.interface, now_s - WEEK_S, now_s)
    except Exception as exc:  # noqa: BLE001 - an unreadable history is the rule's `error`
        return RuleResult(CAPACITY_RULE, "error", detail=f"{history.name}: {type(exc).__name__}: {exc}")
    source = f"{history.name}, {link.local}"
    return uplink_capacity(samples, link.bandwidth_mbps, threshold, min_samples, source)


# --- which device carries the area rules ----------------------------------------------------------------------------

def uplinks_of(inventory: Inventory, area_id: str) -> list[Link]:
    """Every inventory link that is `area_id`'s uplink (`Inventory.uplink_of` gives only the first)."""
    return [link for link in inventory.links if link.area == area_id]


def gateways(inventory: Inventory) -> dict[str, list[Link]]:
    """{device: the uplinks it is the lower end of}: the devices that carry the uplink rules."""
    found: dict[str, list[Link]] = {}
    for link in inventory.links:
        found.setdefault(link.local.device, []).append(link)
    return found


# --- uplink-redundancy (8.1.2.1e) -----------------------------------------------------------------------------------

# A VRRP (or HSRP) group configured on an interface, by CLI family. IPv6 VRRP counts too.
_VRRP = {
    "vrp": re.compile(r"^(?:vrrp6?|vrrp\s+ipv6)\s+vrid\s+\d+\b"),
    "ios": re.compile(r"^(?:standby(?:\s+\d+)?\s+(?:ip|ipv6)\b|vrrp\s+\d+\s+(?:ip|ipv6|address-family)\b)"),
}


def vrrp_lines(config_text: str, platform: str) -> list[Evidence]:
    """The lines that configure a VRRP/HSRP group inside an `interface` block. `undo …`/`no …` lines and
    global look-alikes (`vrrp recover-delay`, `standby` outside an interface) never match."""
    pattern = _VRRP[cli_of(platform).family]
    found: list[Evidence] = []
    in_interface = False
    for number, raw in enumerate(config_text.splitlines(), start=1):
        if raw and not raw[0].isspace():
            in_interface = raw.startswith("interface ")
            continue
        line = raw.strip()
        if in_interface and pattern.match(line):
            found.append(Evidence(line=number, text=line))
    return found


def uplink_redundancy(level: Level, uplinks: Sequence[Link], config_text: str | None,
                      platform: str) -> RuleResult:
    """For a gateway of a county or city area: two uplinks in the inventory, or VRRP on the gateway."""
    if level not in (Level.CITY, Level.COUNTY):
        return RuleResult(REDUNDANCY_RULE, "not-applicable",
                          detail=f"a {level.label} area needs no redundant uplink (county and city areas do)")
    if len(uplinks) >= 2:
        ends = ", ".join(str(link.local) for link in uplinks)
        return RuleResult(REDUNDANCY_RULE, "pass", detail=f"{len(uplinks)} uplinks in the inventory: {ends}")
    if config_text is None or not config_text.strip():
        return RuleResult(REDUNDANCY_RULE, "error", detail=f"{len(uplinks)} uplink in the inventory and the "
                                                           "gateway's configuration could not be read for VRRP")
    found = vrrp_lines(config_text, platform)
    if found:
        return RuleResult(REDUNDANCY_RULE, "pass", evidence=tuple(found),
                          detail=f"{len(uplinks)} uplink in the inventory; the gateway runs VRRP")
    return RuleResult(REDUNDANCY_RULE, "fail", evidence=(Evidence(missing=None, is_missing=True),),
                      detail=f"{len(uplinks)} uplink in the inventory and no VRRP group in the gateway's "
                             "configuration")


def redundancy_results(inventory: Inventory, configs: Mapping[str, str | None]) -> dict[str, RuleResult]:
    """The rule for every device with a CLI: evaluated on the gateways of county and city areas,
    not-applicable on every other device (the rule is the area's, carried by its gateway)."""
    lower_ends = gateways(inventory)
    results: dict[str, RuleResult] = {}
    for device in inventory.devices.values():
        try:
            cli_of(device.platform)
        except KeyError:
            continue
        level = inventory.areas[device.area].level
        if level not in (Level.CITY, Level.COUNTY):
            results[device.name] = uplink_redundancy(level, (), None, device.platform)
        elif device.name not in lower_ends:
            results[device.name] = RuleResult(REDUNDANCY_RULE, "not-applicable",
                                              detail="not the lower end of its area's uplink")
        else:
            results[device.name] = uplink_redundancy(level, uplinks_of(inventory, device.area),
                                                     configs.get(device.name), device.platform)
    return results
