"""One device's overview page: its interfaces from the latest samples, their 24 h traffic from the metric history
(one bounded query), and what the alert, archive and compliance services hold about it.

The sysName and every ifAlias are the device's own words: passed on as JSON strings, never as markup.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from collectors.model import Sample
from collectors.platforms import cli_of
from inventory.model import Device, Inventory
from yiwang.capacity.history import HistoryError, PromHistory, Series, TrafficMetrics

DAY_S = 86400.0
STEP_S = 300.0  # 5-minute points: 288 per direction and interface
HISTORY_TIMEOUT_S = 5.0  # the page answers without its charts rather than wait for a slow history
OPER = {1: "up", 2: "down", 3: "testing", 4: "unknown", 5: "dormant", 6: "notPresent", 7: "lowerLayerDown"}


def sys_name(samples: Iterable[Sample]) -> str | None:
    return next((s.tag("sys_name") for s in samples if s.measurement == "device_info" and s.tag("sys_name")), None)


def interfaces(samples: Sequence[Sample]) -> list[dict[str, Any]]:
    """One row per interface of the latest IF-MIB poll, in ifIndex order."""
    aliases = {s.tag("interface"): s.tag("alias") for s in samples if s.measurement == "interface_info"}
    rows: list[dict[str, Any]] = []
    for sample in samples:
        if sample.measurement != "interface":
            continue
        name, fields = sample.tag("interface"), sample.fields
        oper = fields.get("oper_status")
        speed = fields.get("speed_mbps")
        rows.append({"name": name, "alias": aliases.get(name, ""),
                     "oper": OPER.get(int(oper), str(int(oper))) if oper is not None else "unknown",
                     "speed_bps": int(speed * 1e6) if speed is not None else None,
                     "in_bps": fields.get("in_bps"), "out_bps": fields.get("out_bps"),
                     "history": {"in": [], "out": []}, "_index": sample.tag("if_index")})
    rows.sort(key=lambda r: (int(r["_index"]) if r["_index"].isdigit() else 1 << 31, r["name"]))
    for row in rows:
        del row["_index"]
    return rows


def promql_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def history_query(device: str, metrics: TrafficMetrics) -> str:
    """Both directions of every interface of one device in one selector."""
    return (f'{{__name__=~{promql_string(metrics.in_bps + "|" + metrics.out_bps)},'
            f'device={promql_string(device)}}}')


def attach_history(rows: list[dict[str, Any]], series: Iterable[Series], metrics: TrafficMetrics) -> None:
    by_name = {row["name"]: row for row in rows}
    for one in series:
        row = by_name.get(one.labels.get("interface", ""))
        direction = {metrics.in_bps: "in", metrics.out_bps: "out"}.get(one.labels.get("__name__", ""))
        if row is not None and direction is not None:
            row["history"][direction] = [[t, v] for t, v in one.points]


async def read_history(history: PromHistory | None, device: str, rows: list[dict[str, Any]],
                       metrics: TrafficMetrics, now_s: float | None = None) -> str | None:
    """Fills each row's 24 h history in place; the problem in words when the history cannot be read (None: fine
    or none configured: the lists stay empty)."""
    if history is None or not rows:
        return None
    end = now_s if now_s is not None else time.time()
    bounded = PromHistory(history.url, min(history.timeout_s, HISTORY_TIMEOUT_S), history.headers)
    try:
        found = await bounded.query_range(history_query(device, metrics), end - DAY_S, end, STEP_S)
    except HistoryError as exc:
        return f"interface history: {exc}"
    attach_history(rows, found, metrics)
    return None


def compliance_of(results: Iterable[Any], titles: Mapping[str, str]) -> dict[str, Any] | None:
    """`results`: the device's StoredResults of the latest run; score = passed / (passed + failed) in %."""
    found = list(results)
    if not found:
        return None
    passed = sum(r.status == "pass" for r in found)
    failed = [r for r in found if r.status == "fail"]
    judged = passed + len(failed)
    return {"score": round(100.0 * passed / judged, 1) if judged else None,
            "failed": [{"rule": r.rule, "title": titles.get(r.rule, r.rule)} for r in failed]}


def ipv6_of(inventory: Inventory, device: Device, config: str | None,
            samples: Iterable[Sample]) -> dict[str, Any] | None:
    """The device's IPv6 readiness as the compliance report judges it (None: a device without a CLI yiwang reads,
    which is not judged); `problems` are the checks that neither pass nor do not apply."""
    from yiwang.compliance.ipv6 import device_readiness, inputs_of, poll_view, uplink_interfaces

    try:
        cli_of(device.platform)
    except KeyError:
        return None
    found = device_readiness(inputs_of(inventory, device, config, uplink_interfaces(inventory)), poll_view(samples))
    return {"ready": found.ready,
            "problems": [{"check": c.check, "status": c.status, "reason": c.reason} for c in found.checks
                         if c.status not in ("pass", "not-applicable")]}
