"""The one data model of compliance checking: what a rule concluded about one device, with its evidence.

A rule's result is one of five states. `error` is never a pass: a configuration that could not be read (truncated,
empty, of an unknown platform) proves nothing, and an assessor must see it as such.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

Status = Literal["pass", "fail", "not-applicable", "exempt", "error"]
Severity = Literal["low", "medium", "high", "critical"]
STATUSES: tuple[Status, ...] = ("pass", "fail", "not-applicable", "exempt", "error")


@dataclass(frozen=True, slots=True)
class Evidence:
    """A configuration line (1-based number and its text), or the block where a required line is missing
    (`missing` = the block's header line, or None for the whole configuration)."""

    line: int | None = None
    text: str | None = None
    missing: str | None = None
    is_missing: bool = False  # True for the `missing` form (its header may be None: the whole configuration)

    def as_json(self) -> dict[str, object]:
        if self.is_missing:
            return {"missing": self.missing}
        return {"line": self.line, "text": self.text}


@dataclass(frozen=True, slots=True)
class Exemption:
    """An operator's decision that a rule does not apply to a device or area, until `expires` (inclusive)."""

    rule: str
    device: str | None  # one of device / area
    area: str | None
    reason: str
    expires: date
    approved_by: str

    def active(self, today: date) -> bool:
        return today <= self.expires


@dataclass(frozen=True, slots=True)
class RuleResult:
    rule: str  # the catalogue id, e.g. "pw-irreversible"
    status: Status
    evidence: tuple[Evidence, ...] = ()
    remediation: tuple[str, ...] = ()  # the platform's lines that fix it (fail only)
    severity: Severity = "medium"  # may be raised by the finding (a read-write community is critical)
    detail: str = ""  # one sentence: why, in words (errors, not-applicable, data-based rules)
    exemption: Exemption | None = None

    def as_json(self) -> dict[str, object]:
        return result_json(self.rule, self.status, [e.as_json() for e in self.evidence], self.remediation,
                           self.detail, self.severity, self.exemption_json())

    def exemption_json(self) -> dict[str, str] | None:
        if self.exemption is None:
            return None
        return {"reason": self.exemption.reason, "expires": self.exemption.expires.isoformat(),
                "approved_by": self.exemption.approved_by}


def result_json(rule: str, status: str, evidence: Sequence[object], remediation: Sequence[str], detail: str,
                severity: str, exemption: object | None) -> dict[str, object]:
    """The issue's shape of one rule's result, for a fresh result and a stored one alike."""
    found: dict[str, object] = {"rule": rule, "status": status, "evidence": list(evidence),
                                "remediation": list(remediation)}
    if detail:
        found["detail"] = detail
    if status == "fail":
        found["severity"] = severity
    if exemption is not None:
        found["exemption"] = exemption
    return found


@dataclass(frozen=True, slots=True)
class DeviceReport:
    device: str
    platform: str
    results: tuple[RuleResult, ...] = field(default_factory=tuple)

    def as_json(self) -> dict[str, object]:
        return {"device": self.device, "platform": self.platform, "results": [r.as_json() for r in self.results]}
