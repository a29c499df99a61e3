"""The promises the storm cases make, stated directly rather than only through expected.json."""

import json

from alerts.engine import evaluate
from alerts.state import EngineState
from tests.alerts.casework import load_case, replay


def test_county_storm_is_one_firing_and_one_resolved() -> None:
    sent = [t for _, transitions in replay(load_case("storm-county")) for t in transitions if t.notify]
    assert [(t.rule, t.kind, t.labels["area"]) for t in sent] == [
        ("area_outage", "firing", "hb.hg.hz"), ("area_outage", "resolved", "hb.hg.hz")]
    firing = sent[0]
    assert firing.counts["villages"] == 4 and firing.counts["townships"] == 2
    assert {"id": "hb.hg.hz.t1.v2", "name": "Taohua Village", "level": "village"} in firing.affected
    assert firing.annotations["summary"] == "Huangzhou (county) cut off: 4 villages in 2 townships, 7 devices"


def test_village_alone_is_one_village_alert() -> None:
    sent = [t for _, transitions in replay(load_case("village-alone")) for t in transitions if t.notify]
    assert [(t.kind, t.labels["area"], t.labels["level"]) for t in sent] == [
        ("firing", "hb.hg.hz.t1.v1", "village"), ("resolved", "hb.hg.hz.t1.v1", "village")]


def test_restart_mid_incident_neither_resends_nor_forgets() -> None:
    case = load_case("storm-county")
    topology = case.topology
    state = EngineState()
    sent = []
    for now, samples in case.cycles:
        # A new process every cycle: only the JSON survives.
        state = EngineState.from_dict(json.loads(json.dumps(state.to_dict())))
        state, transitions = evaluate(case.rules, state, samples, now, topology)
        sent += [(t.rule, t.kind) for t in transitions if t.notify]
    assert sent == [("area_outage", "firing"), ("area_outage", "resolved")]
