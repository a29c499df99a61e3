"""One poll cycle's worth of samples for a lab city plan, as the monitor would produce them."""

from __future__ import annotations

from collections.abc import Collection

from collectors.model import Sample
from inventory.model import Device, Inventory
from lab.city import CityPlan


def inventory_of(plan: CityPlan) -> Inventory:
    return Inventory(
        areas={a.id: a for a in plan.areas},
        devices={d.name: Device(d.name, d.platform, d.role, d.area, d.address, d.address6) for d in plan.devices},
        links=list(plan.links),
    )


def cycle(plan: CityPlan, inventory: Inventory, now_ns: int, down: Collection[str] = (),
          ports_down: Collection[tuple[str, str]] = ()) -> list[Sample]:
    samples: list[Sample] = []
    for device in plan.devices:
        base = {"device": device.name, **inventory.path_labels(device.area)}
        up = 0.0 if device.name in down else 1.0
        samples.append(Sample("poll", _tags(base, collector="snmp", reason="ok" if up else "timeout"),
                              {"up": up, "duration_seconds": 0.05, "varbinds": 120.0 * up}, now_ns))
        if device.address6:
            samples.append(Sample("snmp_ipv6", _tags(base, reason="ok" if up else "timeout"),
                                  {"up": up, "duration_seconds": 0.05}, now_ns))
        for family in ("ipv4",) if device.address else ("ipv6",):
            samples.append(Sample("icmp", _tags(base, family=family),
                                  {"up": up, "loss_ratio": 1.0 - up, "rtt_seconds": 0.002}, now_ns))
        if not up:
            continue
        if device.platform != "linux":
            samples.append(Sample("entity", _tags(base, entity="1"),
                                  {"cpu_percent": 20.0, "mem_percent": float(device.mem_percent)}, now_ns))
        for iface in device.interfaces:
            oper = 2.0 if (device.name, iface.name) in ports_down or not iface.oper_up else 1.0
            rates = iface.rates
            samples.append(Sample("interface", _tags(base, if_index=str(iface.index), interface=iface.name), {
                "oper_status": oper, "admin_status": 1.0 if iface.admin_up else 2.0,
                "in_bps": rates.get("in_octets", 0.0) * 8, "out_bps": rates.get("out_octets", 0.0) * 8,
                "in_errors_per_second": rates.get("in_errors", 0.0),
                "out_errors_per_second": rates.get("out_errors", 0.0), "speed_mbps": float(iface.speed_mbps),
            }, now_ns))
    return samples


def _tags(base: dict[str, str], **extra: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted({**base, **extra}.items()))
