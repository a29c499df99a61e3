"""The one extension point for outputs: a sink writes a batch or raises."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from collectors.model import Sample


class Sink(Protocol):
    async def write(self, batch: Sequence[Sample]) -> None: ...

    async def close(self) -> None: ...


class SinkError(Exception):
    """A failed write, with a message that is safe to log (no credentials).

    `retryable=False` means sending the same batch again cannot succeed (the server rejected its
    content), so the buffered wrapper drops it instead of blocking everything queued behind it.
    """

    def __init__(self, message: str, *, retryable: bool = True, status: int | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.status = status
