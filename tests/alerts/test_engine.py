import copy
import json

import pytest

from alerts.engine import evaluate
from alerts.rules import parse_rules
from alerts.state import Ack, EngineState, Silence
from tests.alerts.casework import at, load_case


@pytest.mark.parametrize("name", ["storm-county", "rate-and-delta", "absent-data", "flapping"])
def test_evaluate_leaves_its_input_state_alone(name: str) -> None:
    # The engine forks its state rather than deep-copying it, sharing what it only ever replaces.
    case = load_case(name)
    state = EngineState()
    for now, samples in case.cycles:
        before = copy.deepcopy(state.to_dict())
        new_state, _ = evaluate(case.rules, state, samples, now, case.topology)
        assert state.to_dict() == before
        state = new_state
    assert state.to_dict() != EngineState().to_dict()


def test_transitions_are_json_ready() -> None:
    case = load_case("storm-county")
    state = EngineState()
    for now, samples in case.cycles[:3]:
        state, transitions = evaluate(case.rules, state, samples, now, case.topology)
        json.dumps([t.to_dict() for t in transitions])


def test_silence_and_ack_apply_to_the_rollup_too() -> None:
    case = load_case("storm-county")
    silence = Silence(at(0), at(86400), rule="area_outage", area="hb.hg", comment="city works", created_by="ops")
    state = EngineState()
    sent = []
    for now, samples in case.cycles:
        state, transitions = evaluate(case.rules, state, samples, now, case.topology, silences=[silence])
        sent += [t for t in transitions if t.notify]
    assert sent == []
    # An ack on the roll-up stops its repeats like any other alert.
    state = EngineState()
    for now, samples in case.cycles[:3]:
        state, transitions = evaluate(case.rules, state, samples, now, case.topology)
    outage = next(fp for fp, a in state.alerts.items() if a.rule == "area_outage")
    later = [s._replace(time_ns=at(5 * 3600)) for s in case.cycles[3][1]]
    _, transitions = evaluate(case.rules, state, later, at(5 * 3600), case.topology)
    assert [(t.rule, t.repeat) for t in transitions if t.notify] == [("area_outage", True)]
    _, transitions = evaluate(case.rules, state, later, at(5 * 3600), case.topology, acks=[Ack(outage, at(200))])
    assert [t for t in transitions if t.notify] == []


def test_a_removed_rule_forgets_its_alerts() -> None:
    case = load_case("threshold-for")
    state = EngineState()
    for now, samples in case.cycles[:3]:
        state, _ = evaluate(case.rules, state, samples, now, case.topology)
    assert state.alerts
    other = parse_rules({"rules": [{"name": "other", "kind": "threshold", "measurement": "x", "field": "y",
                                    "value": 1, "severity": "info"}]})
    state, transitions = evaluate(other, state, [], case.cycles[3][0], case.topology)
    assert state.alerts == {} and transitions == []
