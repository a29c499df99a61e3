"""JSON POST of `payload(transition)` to a URL."""

from __future__ import annotations

import httpx

from alerts.notify.base import payload
from alerts.state import Transition


class WebhookNotifier:
    def __init__(self, url: str, timeout: float = 10.0, name: str = "webhook") -> None:
        self.name = name
        self.url = url
        self.timeout = timeout

    async def send(self, transition: Transition) -> None:
        async with httpx.AsyncClient(timeout=self.timeout) as client:
            response = await client.post(self.url, json=payload(transition))
            response.raise_for_status()

    def __repr__(self) -> str:
        return f"WebhookNotifier(name={self.name!r}, url={self.url!r})"
