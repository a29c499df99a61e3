"""The engine's data: state carried between cycles, its inputs (silences, acks) and its output (transitions).

Everything is plain dataclasses of str/int/float/list/dict so `to_dict` -> JSON -> `from_dict` is lossless and a
restart mid-incident neither re-sends nor forgets.
"""

from __future__ import annotations

import copy
import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Status = Literal["inactive", "pending", "firing"]
TransitionKind = Literal["pending", "firing", "resolved", "flapping", "stable"]


@dataclass(slots=True)
class AlertRecord:
    fingerprint: str
    rule: str
    severity: str
    labels: dict[str, str]
    annotations: dict[str, str] = field(default_factory=dict)
    status: Status = "inactive"
    active_since_ns: int | None = None
    firing_since_ns: int | None = None
    value: float | None = None
    # Whether a firing notification went out for the current episode and no resolved one since.
    announced: bool = False
    last_notified_ns: int | None = None
    # Times the condition turned true or false, within the flap window.
    changes: list[int] = field(default_factory=list)
    flapping: bool = False
    suppressed_by: str | None = None
    # Only for a topology roll-up: the areas cut off and what was folded in.
    affected: list[dict[str, str]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)


@dataclass(slots=True)
class EngineState:
    alerts: dict[str, AlertRecord] = field(default_factory=dict)
    # rate/delta history: fingerprint -> [[time_ns, value], ...] inside the rule's window.
    history: dict[str, list[list[float]]] = field(default_factory=dict)
    # absent rules: rule -> fingerprint -> (labels, last time a sample was seen).
    last_seen: dict[str, dict[str, tuple[dict[str, str], int]]] = field(default_factory=dict)

    def fork(self) -> EngineState:
        """A copy the engine may change without changing this one. Alert records are changed in place, so they
        are copied; history lists and last-seen entries are only ever replaced, so they are shared. A deep copy
        of a city's history was a million objects per evaluation."""
        return EngineState(alerts=copy.deepcopy(self.alerts), history=dict(self.history),
                           last_seen={rule: dict(seen) for rule, seen in self.last_seen.items()})

    def to_dict(self) -> dict[str, Any]:
        return {
            "alerts": {fp: asdict(a) for fp, a in sorted(self.alerts.items())},
            "history": {k: [list(p) for p in v] for k, v in sorted(self.history.items())},
            "last_seen": {rule: {k: {"labels": labels, "time_ns": t} for k, (labels, t) in sorted(seen.items())}
                          for rule, seen in sorted(self.last_seen.items())},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EngineState:
        return cls(
            alerts={fp: AlertRecord(**a) for fp, a in data.get("alerts", {}).items()},
            history={k: [list(p) for p in v] for k, v in data.get("history", {}).items()},
            last_seen={rule: {k: (dict(v["labels"]), int(v["time_ns"])) for k, v in seen.items()}
                       for rule, seen in data.get("last_seen", {}).items()},
        )


@dataclass(frozen=True, slots=True)
class Silence:
    """Held notifications for matching alerts between `starts_ns` and `ends_ns`; a maintenance window is one too.

    Every matcher given must match: `area` covers the area's whole subtree.
    """

    starts_ns: int
    ends_ns: int
    area: str | None = None
    device: str | None = None
    rule: str | None = None
    comment: str = ""
    created_by: str = ""

    def active(self, now_ns: int) -> bool:
        return self.starts_ns <= now_ns < self.ends_ns


@dataclass(frozen=True, slots=True)
class Ack:
    """Someone has the alert in hand: it stays firing but repeats stop, until it resolves (a new episode)."""

    fingerprint: str
    at_ns: int
    by: str = ""
    comment: str = ""


@dataclass(frozen=True, slots=True)
class Transition:
    fingerprint: str
    rule: str
    kind: TransitionKind
    at_ns: int
    severity: str
    labels: dict[str, str]
    annotations: dict[str, str]
    value: float | None = None
    # True when a notifier should send this; otherwise `held` says why not.
    notify: bool = False
    held: str = ""
    repeat: bool = False
    affected: tuple[dict[str, str], ...] = ()
    counts: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["affected"] = list(self.affected)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Transition:
        return cls(**{**data, "affected": tuple(data.get("affected", ()))})


def fingerprint(rule: str, identity: dict[str, str]) -> str:
    """Stable across processes and restarts: the rule plus its identifying labels, nothing volatile."""
    text = "\x1f".join([rule, *(f"{k}={v}" for k, v in sorted(identity.items()))])
    return hashlib.sha1(text.encode("utf-8"), usedforsecurity=False).hexdigest()[:16]
