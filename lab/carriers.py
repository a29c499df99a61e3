"""The lab city's carriers: their contracts (the SLAs the inventory gets) and how their links answer a ping (the
round-trip times lab.history draws)."""

from __future__ import annotations

from dataclasses import dataclass

from inventory.model import Carrier


@dataclass(frozen=True, slots=True)
class LabCarrier:
    carrier: Carrier
    rtt_ms: float  # a link's typical round trip from the poller to its lower end
    public: bool  # a public carrier's links have its faults; the e-government's own line is drawn without


LAB_CARRIERS: tuple[LabCarrier, ...] = (
    LabCarrier(Carrier("China Telecom", "中国电信", 99.9, 30.0), 6.0, True),
    LabCarrier(Carrier("China Unicom", "中国联通", 99.9, 30.0), 8.0, True),
    LabCarrier(Carrier("China Mobile", "中国移动", 99.9, 30.0), 11.0, True),
    LabCarrier(Carrier("Hubei E-Gov Private Line", "湖北省电子政务外网专线", 99.95, 20.0), 3.0, False),
)
BY_NAME = {lab.carrier.name: lab for lab in LAB_CARRIERS}


def carriers_document() -> dict[str, list[dict[str, object]]]:
    """The `carriers:` section of the lab's inventory."""
    return {"carriers": [{"name": c.carrier.name, "name_zh": c.carrier.name_zh,
                          "sla_availability_pct": c.carrier.sla_availability_pct,
                          "sla_latency_ms": c.carrier.sla_latency_ms} for c in LAB_CARRIERS]}
