"""Push to an Alertmanager v2 API, as Prometheus does."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx

from alerts.notify.base import label_name
from alerts.state import Transition

SECOND = 1_000_000_000


def _iso(ns: int) -> str:
    return datetime.fromtimestamp(ns / SECOND, tz=UTC).isoformat().replace("+00:00", "Z")


def to_alert(transition: Transition, firing_ttl_s: float, generator_url: str = "") -> dict[str, Any]:
    """Pure: the v2 `postableAlert`. A firing alert ends `firing_ttl_s` after its last push (repeats refresh it);
    a resolved one ends at the moment it resolved."""
    t = transition
    labels = {label_name(k): v for k, v in t.labels.items() if v != ""}
    labels.update(alertname=t.rule, severity=t.severity)
    ends_ns = t.at_ns if t.kind == "resolved" else t.at_ns + int(firing_ttl_s * SECOND)
    alert: dict[str, Any] = {
        "labels": labels,
        "annotations": dict(t.annotations),
        "startsAt": _iso(t.at_ns),
        "endsAt": _iso(ends_ns),
    }
    if generator_url:
        alert["generatorURL"] = f"{generator_url.rstrip('/')}/alerts/{t.fingerprint}"
    return alert


class AlertmanagerNotifier:
    # Only these say something Alertmanager can hold; pending/flapping/stable are yiwang's own bookkeeping.
    KINDS = frozenset({"firing", "resolved"})

    def __init__(self, url: str, *, timeout: float = 10.0, firing_ttl_s: float = 5 * 3600.0,
                 generator_url: str = "", name: str = "alertmanager") -> None:
        self.name = name
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.firing_ttl_s = firing_ttl_s
        self.generator_url = generator_url

    async def send(self, transition: Transition) -> None:
        if transition.kind not in self.KINDS:
            return
        body = [to_alert(transition, self.firing_ttl_s, self.generator_url)]
        async with httpx.AsyncClient(timeout=self.timeout) as client:
            response = await client.post(f"{self.url}/api/v2/alerts", json=body)
            response.raise_for_status()

    def __repr__(self) -> str:
        return f"AlertmanagerNotifier(name={self.name!r}, url={self.url!r})"
