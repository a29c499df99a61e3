"""Compliance in the running service (`yiwang run`): one owner of the runs (after each backup cycle and on demand,
never two at once), the reports' reads of the stored runs, IPv6 readiness with the runtime's latest samples, and
the samples of the newest run for the pipeline. The API is a thin layer over this.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from collectors.base import PollTarget
from inventory.model import Inventory
from yiwang.archive.git import GitArchive
from yiwang.compliance.data_rules import BackupIndex
from yiwang.compliance.history import Changes, ComplianceHistory, RunInfo
from yiwang.compliance.ipv6 import CountyReadiness, DeviceReadiness, assess
from yiwang.compliance.pack import RulePack
from yiwang.compliance.run import RunSummary, SamplesOf, Trigger, checked_devices, data_sources, rule_pack, run_sync
from yiwang.compliance.samples import ComplianceSamples, area_samples, device_samples, readiness_samples
from yiwang.config import ComplianceSettings
from yiwang.versions import KnownVersion


class RunBusy(RuntimeError):
    """A run is under way; the caller waits for it instead of starting another."""


@dataclass(frozen=True, slots=True)
class Readiness:
    devices: list[DeviceReadiness]
    counties: list[CountyReadiness]


class ComplianceService:
    def __init__(self, settings: ComplianceSettings, inventory: Inventory, git: GitArchive, index: BackupIndex,
                 history: ComplianceHistory, targets: Sequence[PollTarget], samples_of: SamplesOf,
                 known_versions: Callable[[], Mapping[str, KnownVersion]] | None = None) -> None:
        self.settings = settings
        self.inventory = inventory
        self.git = git
        self.index = index
        self.history = history
        self.targets = list(targets)
        self.samples_of = samples_of
        self.known_versions = known_versions  # read at each run: a device the SSH cycles have not read since start
        self._running = threading.Lock()  # a run is a thread; the scheduled one and an operator's must not overlap
        self._cached: tuple[int, ComplianceSamples] | None = None
        self._configs: tuple[int, dict[str, str]] | None = None

    # --- runs -----------------------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._running.locked()

    async def run(self, trigger: Trigger, *, wait: bool = True) -> RunSummary:
        """One run over the whole archive, stored. `wait=False`: RunBusy when one is under way. Raises what the
        pack, the advisory file, the archive or the store raise."""
        return await asyncio.to_thread(self._run_sync, trigger, wait)

    def _run_sync(self, trigger: Trigger, wait: bool) -> RunSummary:
        if not self._running.acquire(blocking=wait):
            raise RunBusy("a compliance run is under way")
        try:
            known = self.known_versions() if self.known_versions is not None else None
            return run_sync(self.settings, self.inventory, self.git, self.index, self.history, today=date.today(),
                            trigger=trigger, sources=data_sources(self.settings, self.samples_of, known))
        finally:
            self._running.release()

    def pack(self) -> RulePack:
        """Read again on each call: an exemption or a disabled rule counts from the next report. PackError."""
        return rule_pack(self.settings)

    def latest_run(self) -> RunInfo | None:
        return self.history.latest_run()

    def changes(self, run: int | None = None) -> Changes | None:
        return self.history.changes(run)

    # --- IPv6 readiness ---------------------------------------------------------------------------------------
    def readiness(self) -> Readiness:
        """Every network device and county, from the archive's configurations and the latest poll results."""
        latest = self.history.latest_run()
        configs = self._heads(latest.id if latest is not None else -1)
        samples = {d.name: self.samples_of(d.name) for d in checked_devices(self.inventory)}
        devices, counties = assess(self.inventory, dict(configs), samples)
        return Readiness(devices, counties)

    def _heads(self, run: int) -> dict[str, str]:
        """The archive's newest configurations, read again once per compliance run (each follows a backup)."""
        if self._configs is None or self._configs[0] != run:
            self._configs = (run, self.git.heads([d.name for d in checked_devices(self.inventory)]))
        return self._configs[1]

    # --- samples ----------------------------------------------------------------------------------------------
    def samples(self) -> ComplianceSamples | None:
        """The newest run's samples (computed once per run), with IPv6 readiness as of now; None before a run."""
        latest = self.history.latest_run()
        if latest is None:
            return None
        now_ns = time.time_ns()
        if self._cached is None or self._cached[0] != latest.id:
            results = self.history.results(latest.id)
            pack = self.pack()
            rules = [r.id for r in pack.rules]
            rules += sorted({r.rule for r in results} - set(rules))  # a rule disabled since the run still counts
            severities = {r.id: r.severity for r in pack.rules}
            changes = self.history.changes(latest.id)
            newly = set(changes.newly_failing) if changes is not None and changes.previous is not None else set()
            self._cached = (latest.id, ComplianceSamples(device_samples(self.targets, results, severities, now_ns,
                                                                        newly),
                                                         area_samples(self.inventory, results, rules, now_ns)))
        found = self._cached[1]
        readiness = readiness_samples(self.inventory, self.readiness().counties, now_ns)
        return ComplianceSamples({d: [s._replace(time_ns=now_ns) for s in samples]
                                  for d, samples in found.by_device.items()},
                                 [s._replace(time_ns=now_ns) for s in found.areas] + readiness)
