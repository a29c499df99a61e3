"""The alert stage of the runtime: the pure engine run over the latest samples after every cycle, its state kept in
the SQL store so that a restart mid-incident neither re-sends nor forgets."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from alerts.engine import evaluate
from alerts.rules import DEFAULT_RULES, Rule, load_rules
from alerts.state import Ack, EngineState, Silence, Transition
from alerts.topology import Topology
from collectors.model import Sample
from inventory.model import Inventory
from yiwang.store import Store

log = logging.getLogger("yiwang.alerts")


class AlertError(ValueError):
    pass


class AlertStage:
    def __init__(self, rules: Sequence[Rule], inventory: Inventory, store: Store) -> None:
        self.rules = tuple(rules)
        self.topology = Topology.from_inventory(inventory)
        self.store = store
        self.state = EngineState()
        self.reload()

    def reload(self) -> None:
        """The state as the store has it: at start, and when a standby core is elected (the leader before it wrote
        it), so an alert it already notified is not notified again and its resolve is still sent."""
        saved = self.store.load_alert_state()
        self.state = EngineState.from_dict(saved) if saved else EngineState()

    @classmethod
    def from_files(cls, paths: Sequence[Path], inventory: Inventory, store: Store) -> AlertStage:
        return cls(load_rules(paths or (DEFAULT_RULES,)), inventory, store)

    def evaluate(self, samples: Sequence[Sample], now_ns: int) -> list[Transition]:
        held = [Silence(r["starts_ns"], r["ends_ns"], r["area"], r["device"], r["rule"], r["comment"],
                        r["created_by"]) for r in self.store.silences(now_ns)]
        taken = [Ack(r["fingerprint"], r["at_ns"], r["by"], r["comment"]) for r in self.store.acks()]
        state, transitions = evaluate(self.rules, self.state, samples, now_ns, self.topology, silences=held,
                                      acks=taken)
        # State first in the store, then in memory: if the write fails the next cycle re-derives the same
        # transitions instead of forgetting them.
        self.store.save_alert_state(state.to_dict(), [t.to_dict() for t in transitions])
        self.state = state
        for transition in transitions:
            if transition.notify:
                log.warning("alert %s %s %s", transition.kind, transition.rule,
                            transition.annotations.get("summary", "").replace("\n", " ")[:300])
        return transitions

    def silence(self, *, starts_ns: int, ends_ns: int, area: str | None, device: str | None, rule: str | None,
                comment: str, created_by: str, kind: str = "silence") -> int:
        """The API and the CLI both come through here, so they refuse the same mistakes with the same words."""
        if ends_ns <= starts_ns:
            raise AlertError("a silence must end after it starts")
        if not (area or device or rule):
            raise AlertError("a silence needs at least one of area, device or rule")
        if area is not None and area not in self.topology.inventory.areas:
            raise AlertError(f"no area {area!r}")
        if device is not None and device not in self.topology.inventory.devices:
            raise AlertError(f"no device {device!r}")
        if kind not in ("silence", "maintenance"):
            raise AlertError(f"kind must be silence or maintenance, not {kind!r}")
        return self.store.add_silence({"kind": kind, "starts_ns": starts_ns, "ends_ns": ends_ns, "area": area,
                                       "device": device, "rule": rule, "comment": comment,
                                       "created_by": created_by})

    def acknowledge(self, fingerprint: str, by: str, comment: str, now_ns: int) -> None:
        record = self.state.alerts.get(fingerprint)
        if record is None or record.status != "firing":
            raise AlertError(f"no firing alert {fingerprint!r}")
        self.store.add_ack(fingerprint, now_ns, by, comment)

    def active(self) -> list[dict[str, object]]:
        return [
            {"fingerprint": r.fingerprint, "rule": r.rule, "severity": r.severity, "status": r.status,
             "labels": r.labels, "annotations": r.annotations, "value": r.value, "flapping": r.flapping,
             "suppressed_by": r.suppressed_by, "active_since_ns": r.active_since_ns,
             "firing_since_ns": r.firing_since_ns, "counts": r.counts, "affected": r.affected}
            for r in sorted(self.state.alerts.values(), key=lambda r: (r.severity, r.rule, r.fingerprint))
            if r.status in ("pending", "firing")
        ]
