"""The notifier extension point and the pure pieces every notifier shares: the payload and safe header text."""

from __future__ import annotations

import re
from typing import Any, Protocol

from alerts.state import Transition

PAYLOAD_VERSION = 1
_LINE_BREAKS = re.compile(r"[\r\n\x0b\x0c\x1c-\x1e\x85\u2028\u2029]+")
_LABEL_NAME = re.compile(r"[^a-zA-Z0-9_]")


class Notifier(Protocol):
    """Sends one transition; raises on failure. Retries and the outbox belong to yiwang.notify.Dispatcher."""

    name: str

    async def send(self, transition: Transition) -> None: ...


def payload(transition: Transition) -> dict[str, Any]:
    """The documented webhook body: `Transition.to_dict()` plus `version`, `source` and a `key` for de-duplication.

    `key` is the same for every delivery of the same transition, so a receiver can drop the rare duplicate that
    follows a crash between a successful send and the outbox update.
    """
    body = transition.to_dict()
    body.update(version=PAYLOAD_VERSION, source="yiwang", key=delivery_key(transition))
    return body


def delivery_key(transition: Transition) -> str:
    return f"{transition.fingerprint}:{transition.kind}:{transition.at_ns}"


def header_text(value: str, limit: int = 200) -> str:
    """One line of plain text: label values are untrusted, and a line break in a header would start a new one."""
    return _LINE_BREAKS.sub(" ", value).strip()[:limit]


def label_name(name: str) -> str:
    """A valid Prometheus/Alertmanager label name: `[a-zA-Z_][a-zA-Z0-9_]*`."""
    clean = _LABEL_NAME.sub("_", name) or "_"
    return f"_{clean}" if clean[0].isdigit() else clean
