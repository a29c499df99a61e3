"""E-mail via the stdlib smtplib in a worker thread. Plain text only: labels come from devices and stay inert."""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage

from alerts.notify.base import delivery_key, header_text
from alerts.state import Transition


def render_email(transition: Transition, sender: str, recipients: Sequence[str]) -> EmailMessage:
    """Pure: the message for one transition. Subject and body come from the already-rendered annotations."""
    t = transition
    summary = t.annotations.get("summary") or t.rule
    message = EmailMessage()
    message["Subject"] = header_text(f"[{t.severity.upper()}] {t.kind}: {summary}")
    message["From"] = header_text(sender)
    message["To"] = ", ".join(header_text(r) for r in recipients)
    message["X-Yiwang-Key"] = header_text(delivery_key(t))
    lines = [f"{t.kind.upper()}: {summary}", ""]
    if description := t.annotations.get("description"):
        lines += [description, ""]
    lines += [f"rule: {t.rule}", f"severity: {t.severity}"]
    if t.value is not None:
        lines.append(f"value: {t.value:g}")
    lines += ["", "labels:", *(f"  {k}: {header_text(v, 500)}" for k, v in sorted(t.labels.items()))]
    if t.affected:
        lines += ["", f"affected areas: {len(t.affected)}"]
    message.set_content("\n".join(lines) + "\n", subtype="plain", charset="utf-8")
    return message


@dataclass(frozen=True, slots=True)
class SmtpServer:
    host: str
    port: int = 25
    starttls: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = 30.0


class SmtpNotifier:
    def __init__(self, server: SmtpServer, sender: str, recipients: Sequence[str], name: str = "smtp") -> None:
        if not recipients:
            raise ValueError("SmtpNotifier needs at least one recipient")
        self.name = name
        self.host = server.host
        self.port = server.port
        self.sender = sender
        self.recipients = tuple(recipients)
        self.starttls = server.starttls
        self.username = server.username
        self._password = server.password
        self.timeout = server.timeout

    async def send(self, transition: Transition) -> None:
        message = render_email(transition, self.sender, self.recipients)
        await asyncio.to_thread(self._deliver, message)

    def _deliver(self, message: EmailMessage) -> None:
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as client:
            if self.starttls:
                client.starttls(context=ssl.create_default_context())
            if self.username:
                client.login(self.username, self._password or "")
            client.send_message(message, from_addr=self.sender, to_addrs=list(self.recipients))

    def __repr__(self) -> str:
        return (f"SmtpNotifier(name={self.name!r}, host={self.host!r}, port={self.port}, "
                f"username={self.username!r}, password={'***' if self._password else None})")
