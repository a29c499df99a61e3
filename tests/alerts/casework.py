"""Replays a case folder through `evaluate`: samples.json cycles, optional rules.yaml, silences.json, acks.json."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alerts.engine import Policy, evaluate
from alerts.rules import Rule, load_rules
from alerts.state import Ack, EngineState, Silence, Transition
from alerts.topology import Topology
from collectors.model import Sample
from inventory.loader import load_inventory
from inventory.model import Inventory

CASES = Path(__file__).parent / "cases"
T0 = 1_800_000_000  # seconds; case files give times as offsets from it
SECOND = 1_000_000_000


def at(offset: float) -> int:
    return int((T0 + offset) * SECOND)


def subject(t: Transition) -> str:
    return t.labels.get("device") or t.labels.get("area", "")


def project(t: Transition, fields: list[str]) -> dict[str, Any]:
    """The part of a transition a case pins down; `fields` adds annotations, held, counts, ..."""
    out: dict[str, Any] = {"rule": t.rule, "kind": t.kind, "subject": subject(t)}
    if t.repeat:
        out["repeat"] = True
    for name in fields:
        if name == "affected":
            out[name] = [a["id"] for a in t.affected]
        elif name == "interface":
            out[name] = t.labels.get("interface", "")
        else:
            out[name] = getattr(t, name)
    return out


@dataclass
class Case:
    name: str
    inventory: Inventory
    rules: tuple[Rule, ...]
    cycles: list[tuple[int, list[Sample]]]
    silences: list[Silence] = field(default_factory=list)
    acks: list[dict[str, Any]] = field(default_factory=list)
    policy: Policy = field(default_factory=Policy)

    @property
    def topology(self) -> Topology:
        return Topology.from_inventory(self.inventory)


def load_case(name: str) -> Case:
    folder = CASES / name
    doc = json.loads((folder / "samples.json").read_text(encoding="utf-8"))
    inventory_path = folder / "inventory.yaml"
    if not inventory_path.exists():
        inventory_path = CASES / doc["inventory"]
    result = load_inventory([inventory_path])
    assert not result.problems, result.problems
    rules_path = folder / "rules.yaml"
    rules = load_rules([rules_path]) if rules_path.exists() else load_rules()
    cycles = [(at(c["t"]), [Sample(s["measurement"], tuple(sorted(s["tags"].items())),
                                   {k: float(v) for k, v in s["fields"].items()}, at(c["t"]))
                            for s in c["samples"]]) for c in doc["cycles"]]
    silences = [Silence(at(s["starts"]), at(s["ends"]), s.get("area"), s.get("device"), s.get("rule"),
                        s.get("comment", ""), s.get("created_by", ""))
                for s in _optional(folder / "silences.json")]
    return Case(name, result.inventory, rules, cycles, silences, _optional(folder / "acks.json"),
                Policy(**doc.get("policy", {})))


def _optional(path: Path) -> list[dict[str, Any]]:
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else []


def replay(case: Case, restart_every_cycle: bool = False) -> list[tuple[int, list[Transition]]]:
    """Transitions per cycle; with `restart_every_cycle` the state goes through JSON between cycles."""
    topology = case.topology
    state = EngineState()
    known: dict[tuple[str, str], str] = {}
    out = []
    for now, samples in case.cycles:
        acks = [Ack(known[(a["rule"], a["subject"])], at(a["at"]), a.get("by", ""), a.get("comment", ""))
                for a in case.acks if (a["rule"], a["subject"]) in known]
        if restart_every_cycle:
            state = EngineState.from_dict(json.loads(json.dumps(state.to_dict())))
        state, transitions = evaluate(case.rules, state, samples, now, topology, silences=case.silences, acks=acks,
                                      policy=case.policy)
        for t in transitions:
            known[(t.rule, subject(t))] = t.fingerprint
        out.append(((now // SECOND) - T0, transitions))
    return out
