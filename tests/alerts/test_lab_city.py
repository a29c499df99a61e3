"""The small lab city (~250 devices): the Huangzhou county device and everything behind it go dark."""

from alerts.engine import evaluate
from alerts.rules import load_rules
from alerts.state import EngineState
from alerts.topology import Topology
from inventory.model import Level
from lab.city import generate_city
from lab.cityload import cycle, inventory_of

MINUTE = 60 * 1_000_000_000
T0 = 1_800_000_000 * 1_000_000_000
COUNTY = "hb.hg.huangzhou"


def test_county_down_in_the_small_city_is_one_notification() -> None:
    plan = generate_city(2026, "small")
    inventory = inventory_of(plan)
    topology = Topology.from_inventory(inventory)
    rules = load_rules()
    beneath = {d.name for d in inventory.devices_in(COUNTY)}
    uplink = inventory.uplink_of(COUNTY)
    assert uplink is not None and len(beneath) > 200
    phases = ["up"] * 2 + ["down"] * 6 + ["up"] * 2
    state = EngineState()
    sent = []
    for minute, phase in enumerate(phases):
        now = T0 + minute * MINUTE
        samples = (cycle(plan, inventory, now) if phase == "up" else
                   cycle(plan, inventory, now, down=beneath, ports_down={(uplink.remote.device,
                                                                          uplink.remote.interface)}))
        state, transitions = evaluate(rules, state, samples, now, topology)
        sent += [(minute, t) for t in transitions if t.notify]
    assert [(m, t.rule, t.kind, t.labels["area"]) for m, t in sent] == [
        (3, "area_outage", "firing", COUNTY), (8, "area_outage", "resolved", COUNTY)]
    villages = [a for a in inventory.areas.values() if a.level == Level.VILLAGE]
    firing = sent[0][1]
    assert firing.counts["villages"] == len(villages) and firing.counts["devices"] == len(beneath)
    assert {a["id"] for a in firing.affected if a["level"] == "village"} == {a.id for a in villages}
    assert not state.alerts or all(a.status == "inactive" for a in state.alerts.values())
