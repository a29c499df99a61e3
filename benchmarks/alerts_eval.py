"""Milliseconds for one pure alert evaluation over a synthetic full-city cycle (poll, icmp, entity, interface).

Run: .venv/bin/python benchmarks/alerts_eval.py [profile] [repeats]
"""

from __future__ import annotations

import sys
import time

from alerts.engine import evaluate
from alerts.rules import load_rules
from alerts.state import EngineState
from alerts.topology import Topology
from inventory.model import Level
from lab.city import generate_city
from lab.cityload import cycle, inventory_of

T0 = 1_800_000_000 * 1_000_000_000
MINUTE = 60 * 1_000_000_000


def measure(profile: str = "city", repeats: int = 5) -> dict[str, float]:
    plan = generate_city(2026, profile)
    inventory = inventory_of(plan)
    topology = Topology.from_inventory(inventory)
    rules = load_rules()
    counties = sorted(a.id for a in inventory.areas.values() if a.level == Level.COUNTY)
    county = "hb.hg.macheng" if "hb.hg.macheng" in counties else counties[0]  # the largest county
    beneath = {d.name for d in inventory.devices_in(county)}
    uplink = inventory.uplink_of(county)
    ports = {(uplink.remote.device, uplink.remote.interface)} if uplink else set()
    state = EngineState()
    healthy_ms: list[float] = []
    storm_ms: list[float] = []
    sizes: list[int] = []
    notified = 0
    for i in range(repeats * 2):
        now = T0 + i * MINUTE
        storm = i >= repeats
        samples = cycle(plan, inventory, now, down=beneath if storm else (), ports_down=ports if storm else ())
        sizes.append(len(samples))
        started = time.perf_counter()
        state, transitions = evaluate(rules, state, samples, now, topology)
        (storm_ms if storm else healthy_ms).append((time.perf_counter() - started) * 1000)
        notified += sum(t.notify for t in transitions)
    return {"devices": len(inventory.devices), "samples": sizes[0], "eval_ms": min(healthy_ms),
            "storm_eval_ms": min(storm_ms), "alerts": len(state.alerts), "notified": notified}


def main(profile: str = "city", repeats: int = 5) -> None:
    f = measure(profile, repeats)
    print(f"profile={profile} devices={f['devices']} samples={f['samples']} eval_ms={f['eval_ms']:.0f} "
          f"storm_eval_ms={f['storm_eval_ms']:.0f} alerts={f['alerts']} notified={f['notified']}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "city", int(sys.argv[2]) if len(sys.argv) > 2 else 5)
