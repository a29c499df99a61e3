"""The metrics the dashboards read, named once as (measurement, field) and turned into the exporter's own names.

The Prometheus name comes from yiwang.sinks.prometheus.metric_name (what /metrics shows) and the InfluxDB name is
the measurement and `_field` the line-protocol sink writes, so neither is typed here. A field read from an SNMP
profile is checked against that profile when the catalogue is imported: a renamed column fails generation.
"""

from __future__ import annotations

from dataclasses import dataclass

from collectors.snmp.profile import BUILTIN_DIR, load_profiles
from yiwang.capacity.samples import MEASUREMENT, THRESHOLDS, WINDOWS
from yiwang.sinks.prometheus import metric_name


@dataclass(frozen=True, slots=True)
class Metric:
    measurement: str
    field: str

    @property
    def prom(self) -> str:
        return metric_name(self.measurement, self.field)


def _profile_fields() -> dict[str, set[str]]:
    fields: dict[str, set[str]] = {}
    for profile in load_profiles(BUILTIN_DIR).values():
        for column in profile.scalars:
            fields.setdefault(profile.measurement, set()).update(c for c in (column.name, column.rate) if c)
        for table in profile.tables:
            names = fields.setdefault(table.measurement, set())
            names.update(table.products)
            for column in table.columns:
                names.update(c for c in (column.name, column.rate) if c)
    return fields


PROFILE_FIELDS = _profile_fields()
# Written by the poller itself for every device and collector (yiwang/stages.py, collectors/icmp.py), not by a profile.
POLLER_FIELDS = {"poll": {"up", "duration_seconds", "varbinds", "bad_varbinds"},
                 "icmp": {"up", "loss_ratio", "rtt_seconds"},
                 "cycle": {"devices", "failed", "duration_seconds", "late_seconds"}}
POLLED_MEASUREMENTS = frozenset(PROFILE_FIELDS) | frozenset(POLLER_FIELDS)
# Computed by `yiwang run` from the metric history when capacity.history_url is set (yiwang/capacity/samples.py).
CAPACITY_FIELDS = {MEASUREMENT: {"p95_ratio", "days_to_saturation"}}


def metric(measurement: str, field: str) -> Metric:
    known = (PROFILE_FIELDS.get(measurement) or POLLER_FIELDS.get(measurement) or CAPACITY_FIELDS.get(measurement)
             or set())
    if field not in known:
        raise KeyError(f"{measurement}.{field} is written by no SNMP profile, the poller nor the capacity samples")
    return Metric(measurement, field)


POLL_UP = metric("poll", "up")
POLL_DURATION = metric("poll", "duration_seconds")
ICMP_UP = metric("icmp", "up")
ICMP_RTT = metric("icmp", "rtt_seconds")
ICMP_LOSS = metric("icmp", "loss_ratio")
CYCLE_DEVICES = metric("cycle", "devices")
CYCLE_FAILED = metric("cycle", "failed")
CYCLE_DURATION = metric("cycle", "duration_seconds")
UPTIME = metric("device", "uptime_seconds")
IF_OPER = metric("interface", "oper_status")
IF_ADMIN = metric("interface", "admin_status")
IF_IN_BPS = metric("interface", "in_bps")
IF_OUT_BPS = metric("interface", "out_bps")
IF_SPEED_MBPS = metric("interface", "speed_mbps")
IF_IN_ERRORS = metric("interface", "in_errors_per_second")
IF_OUT_ERRORS = metric("interface", "out_errors_per_second")
IF_IN_DISCARDS = metric("interface", "in_discards_per_second")
CPU = metric("entity", "cpu_percent")
MEMORY = metric("entity", "mem_percent")
LINK_P95 = metric(MEASUREMENT, "p95_ratio")  # labels: window (WINDOWS), direction, device, interface, carrier, path
LINK_DAYS = metric(MEASUREMENT, "days_to_saturation")  # labels: threshold (THRESHOLDS), direction, ...
LINK_WINDOWS = WINDOWS
LINK_THRESHOLDS = THRESHOLDS
