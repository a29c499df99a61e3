"""The configuration archive as the runtime, the CLI and the API use it: back up on schedule or on demand, list
versions, diff them, and say how old each device's (and each area's) last good backup is."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from collectors.base import CycleCollector, PollTarget
from collectors.model import Sample
from inventory.model import Inventory
from yiwang.archive.backup import BackupResult, age_samples, backup
from yiwang.archive.git import ArchiveError, GitArchive, Version
from yiwang.archive.index import ArchiveIndex
from yiwang.config import SshSettings
from yiwang.ssh_workers import ssh_work


@dataclass(slots=True)
class ConfigArchive:
    inventory: Inventory
    targets: dict[str, PollTarget]
    fetcher: CycleCollector  # SshWork.configs (yiwang.ssh_workers)
    git: GitArchive
    index: ArchiveIndex
    on_close: Callable[[], None] = lambda: None

    @classmethod
    def open(cls, inventory: Inventory, targets: Sequence[PollTarget], state_dir: Path, index: ArchiveIndex,
             fetcher: CycleCollector | None = None, ssh: SshSettings | None = None) -> ConfigArchive:
        """Without a fetcher (the command line) netmiko runs as threads of this process, `ssh.workers` of them,
        and `close()` ends them; a given fetcher stays its owner's to close."""
        by_name = {t.device: t for t in targets}
        if fetcher is not None:
            return cls(inventory, by_name, fetcher, GitArchive(state_dir / "configs"), index)
        work = ssh_work((ssh or SshSettings()).model_copy(update={"processes": 0}), state_dir)
        return cls(inventory, by_name, work.configs, GitArchive(state_dir / "configs"), index, work.close)

    def select(self, device: str | None = None, area: str | None = None) -> list[PollTarget]:
        if device is not None:
            if device not in self.targets:
                raise ArchiveError(f"no device {device!r} reachable by SSH in the inventory")
            return [self.targets[device]]
        if area is not None:
            if area not in self.inventory.areas:
                raise ArchiveError(f"no area {area!r}")
            inside = {d.name for d in self.inventory.devices_in(area)}
            return [t for name, t in self.targets.items() if name in inside]
        return list(self.targets.values())

    async def backup(self, device: str | None = None, area: str | None = None) -> list[BackupResult]:
        return await backup(self.select(device, area), self.fetcher, self.git, self.index)

    def versions(self, device: str) -> list[Version]:
        self._known(device)
        return self.git.versions(device)

    def diff(self, device: str, a: str, b: str) -> str:
        self._known(device)
        return self.git.diff(device, a, b)

    def show(self, device: str, commit: str) -> str:
        self._known(device)
        return self.git.show(device, commit)

    def age_samples(self) -> list[Sample]:
        return age_samples(self.targets.values(), self.index.status(), time.time())

    def status(self, area: str | None = None) -> dict[str, Any]:
        """Per device and rolled up per area: the oldest good backup decides an area's age."""
        now = time.time()
        known = self.index.status()
        devices = []
        areas: dict[str, dict[str, Any]] = {}
        for target in self.select(area=area):
            state = known.get(target.device)
            age = now - state.last_ok_at if state and state.last_ok_at is not None else None
            devices.append({"device": target.device, "age_seconds": age,
                            "last_reason": state.last_reason if state else "never",
                            "last_error": state.last_error if state else "",
                            "last_commit": state.last_commit if state else None})
            for step in self.inventory.path(self.inventory.devices[target.device].area):
                rollup = areas.setdefault(step.id, {"area": step.id, "name": step.name, "level": step.level.label,
                                                    "devices": 0, "never": 0, "failing": 0,
                                                    "oldest_age_seconds": 0.0})
                rollup["devices"] += 1
                if age is None:
                    rollup["never"] += 1
                else:
                    rollup["oldest_age_seconds"] = max(rollup["oldest_age_seconds"], age)
                if state is not None and state.last_reason != "ok":
                    rollup["failing"] += 1
        return {"devices": devices, "areas": sorted(areas.values(), key=lambda a: a["area"])}

    def _known(self, device: str) -> None:
        if device not in self.targets:
            raise ArchiveError(f"no device {device!r} reachable by SSH in the inventory")

    def close(self) -> None:
        self.on_close()
