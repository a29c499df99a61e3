"""The alert stage of the runtime: the pure engine run over the latest samples after every cycle, its state kept in
the SQL store so that a restart mid-incident neither re-sends nor forgets."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from alerts.engine import evaluate
from alerts.rules import DEFAULT_RULES, Rule, load_rules
from alerts.state import EngineState, Transition
from alerts.topology import Topology
from inventory.model import Inventory
from yiwang.model import Sample
from yiwang.store import Store

log = logging.getLogger("yiwang.alerts")


class AlertStage:
    def __init__(self, rules: Sequence[Rule], inventory: Inventory, store: Store) -> None:
        self.rules = tuple(rules)
        self.topology = Topology.from_inventory(inventory)
        self.store = store
        saved = store.load_alert_state()
        self.state = EngineState.from_dict(saved) if saved else EngineState()

    @classmethod
    def from_files(cls, paths: Sequence[Path], inventory: Inventory, store: Store) -> AlertStage:
        return cls(load_rules(paths or (DEFAULT_RULES,)), inventory, store)

    def evaluate(self, samples: Sequence[Sample], now_ns: int) -> list[Transition]:
        state, transitions = evaluate(self.rules, self.state, samples, now_ns, self.topology)
        # State first in the store, then in memory: if the write fails the next cycle re-derives the same
        # transitions instead of forgetting them.
        self.store.save_alert_state(state.to_dict(), [t.to_dict() for t in transitions])
        self.state = state
        for transition in transitions:
            if transition.notify:
                log.warning("alert %s %s %s", transition.kind, transition.rule,
                            transition.annotations.get("summary", "").replace("\n", " ")[:300])
        return transitions

    def active(self) -> list[dict[str, object]]:
        return [
            {"fingerprint": r.fingerprint, "rule": r.rule, "severity": r.severity, "status": r.status,
             "labels": r.labels, "annotations": r.annotations, "value": r.value, "flapping": r.flapping,
             "suppressed_by": r.suppressed_by, "active_since_ns": r.active_since_ns,
             "firing_since_ns": r.firing_since_ns, "counts": r.counts, "affected": r.affected}
            for r in sorted(self.state.alerts.values(), key=lambda r: (r.severity, r.rule, r.fingerprint))
            if r.status in ("pending", "firing")
        ]
