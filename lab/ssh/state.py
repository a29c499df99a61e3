"""What a device remembers between sessions: running and startup configuration, and when they changed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from lab.ssh.config import Config


@dataclass(frozen=True, slots=True)
class DeviceMemory:
    running: Config
    startup: Config
    updated_at: datetime
    started_at: datetime
