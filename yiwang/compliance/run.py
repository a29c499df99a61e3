"""A compliance run: every device the inventory reads over a CLI, against the rule pack, from the archive and
yiwang's own data; the results stored per run (`history.ComplianceHistory`), older runs pruned.

The configuration rules read each device's newest archived configuration; a device with none gets `error` for them
("no configuration in the archive"). `config-backup-fresh` reads the archive index, `uplink-redundancy` the inventory
links and the gateways' configurations, `uplink-capacity` the metric history (`compliance.metrics_url`), and
`firmware-advisory` the versions the SSH collector read (the `device_facts` samples of `yiwang run`'s LatestStore;
where a device has none, as in every run from the command line, the last version its SSH cycles stored in SQL,
`yiwang.versions`, with its age said in the detail). A run is CPU work: it goes to a thread, away from the event
loop.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Literal

from collectors.model import Sample
from collectors.platforms import UnknownPlatform, cli_of
from inventory.model import Device, Inventory, Link
from yiwang.archive.git import GitArchive
from yiwang.archive.index import BackupStatus
from yiwang.compliance.advisories import Advisory, firmware_advisory, load_advisories, version_of
from yiwang.compliance.data_rules import (
    BACKUP_RULE,
    CAPACITY_RULE,
    REDUNDANCY_RULE,
    BackupIndex,
    UtilisationHistory,
    VictoriaMetricsHistory,
    capacity_result,
    config_backup_fresh,
    gateways,
    redundancy_results,
)
from yiwang.compliance.evaluate import evaluate, exempted
from yiwang.compliance.history import Changes, ComplianceHistory, RunInfo, StoredResult
from yiwang.compliance.model import RuleResult
from yiwang.compliance.pack import RulePack, RuleSettings, load_exemptions, load_pack
from yiwang.config import ComplianceSettings
from yiwang.versions import KnownVersion

FIRMWARE_RULE = "firmware-advisory"
Trigger = Literal["backup", "manual"]
SamplesOf = Callable[[str], Sequence[Sample]]


@dataclass(frozen=True, slots=True)
class RunSummary:
    run: RunInfo
    changes: Changes  # against the run before it
    pruned: int  # runs dropped as older than compliance.keep_days
    read_s: float  # the archive and the index
    evaluate_s: float
    store_s: float


@dataclass(frozen=True, slots=True)
class DataSources:
    """What the data rules read besides the archive: each None when it is not configured or not available."""

    advisories: tuple[Advisory, ...] | None = None
    metrics: UtilisationHistory | None = None
    samples_of: SamplesOf | None = None  # the latest samples of a device (yiwang run's LatestStore)
    known_versions: Mapping[str, KnownVersion] | None = None  # the versions stored by the SSH cycles, by device


def rule_pack(settings: ComplianceSettings) -> RulePack:
    """The pack with the operator's settings; PackError when the pack, the settings or the exemptions are wrong."""
    exemptions = load_exemptions(settings.exemptions) if settings.exemptions is not None else ()
    return load_pack(settings.pack, RuleSettings(frozenset(settings.disabled), settings.parameters, exemptions))


def data_sources(settings: ComplianceSettings, samples_of: SamplesOf | None = None,
                 known_versions: Mapping[str, KnownVersion] | None = None) -> DataSources:
    """AdvisoryFileError (a ValueError) when the advisory file is wrong."""
    advisories = load_advisories(settings.advisories) if settings.advisories is not None else None
    metrics = VictoriaMetricsHistory(settings.metrics_url) if settings.metrics_url else None
    return DataSources(advisories, metrics, samples_of, known_versions)


async def run_compliance(settings: ComplianceSettings, inventory: Inventory, git: GitArchive, index: BackupIndex,
                         history: ComplianceHistory, *, today: date, trigger: Trigger,
                         sources: DataSources | None = None, now_s: float | None = None) -> RunSummary:
    """One run over every device, stored; raises what the pack, the archive or the store raise (the caller logs
    it: a run that fails leaves the previous one as the latest)."""
    return await asyncio.to_thread(run_sync, settings, inventory, git, index, history, today=today, trigger=trigger,
                                   sources=sources, now_s=now_s)


def run_sync(settings: ComplianceSettings, inventory: Inventory, git: GitArchive, index: BackupIndex,
             history: ComplianceHistory, *, today: date, trigger: Trigger, sources: DataSources | None = None,
             now_s: float | None = None) -> RunSummary:
    started = time.time() if now_s is None else now_s
    clock = time.perf_counter()
    pack = rule_pack(settings)
    sources = sources if sources is not None else data_sources(settings)
    devices = checked_devices(inventory)
    configs = git.heads([d.name for d in devices])
    statuses = index.status()
    read_s = time.perf_counter() - clock
    clock = time.perf_counter()
    found = evaluate_all(inventory, devices, configs, statuses, pack, sources, today=today, now_s=started,
                         backup_max_age_h=settings.backup_max_age_h)
    evaluate_s = time.perf_counter() - clock
    clock = time.perf_counter()
    run = history.record_run(started, started + read_s + evaluate_s, trigger, digest(pack, settings),
                             len(pack.rules), found)
    changes = history.changes(run.id)
    pruned = history.prune(settings.keep_days, started)
    assert changes is not None
    return RunSummary(run, changes, pruned, read_s, evaluate_s, time.perf_counter() - clock)


def checked_devices(inventory: Inventory) -> list[Device]:
    """The devices with a CLI yiwang reads: the ones the archive backs up."""
    found = []
    for device in sorted(inventory.devices.values(), key=lambda d: d.name):
        try:
            cli_of(device.platform)
        except UnknownPlatform:
            continue
        found.append(device)
    return found


def digest(pack: RulePack, settings: ComplianceSettings) -> str:
    """Which rules, parameters and exemptions judged a run: two runs with one digest are comparable."""
    return hashlib.sha256(f"{pack!r}|{settings.backup_max_age_h}".encode()).hexdigest()


def evaluate_all(inventory: Inventory, devices: Sequence[Device], configs: Mapping[str, str],
                 statuses: Mapping[str, BackupStatus], pack: RulePack, sources: DataSources, *, today: date,
                 now_s: float, backup_max_age_h: float = 24.0) -> list[StoredResult]:
    """Every rule of the pack on every device, in the pack's order; the data rules' inputs given."""
    enabled = {rule.id: rule for rule in pack.rules}
    redundancy = redundancy_results(inventory, configs) if REDUNDANCY_RULE in enabled else {}
    uplinks = gateways(inventory) if CAPACITY_RULE in enabled else {}
    found: list[StoredResult] = []
    paths: dict[str, tuple[str, ...]] = {}  # per area: a city has some 4,000 devices in a few hundred areas
    for device in devices:
        path = paths.get(device.area)
        if path is None:
            path = paths[device.area] = tuple(area.id for area in inventory.path(device.area))
        text = configs.get(device.name)
        if text is not None:
            by_rule = {r.rule: r for r in evaluate(text, device.platform, pack, device=device.name, area_path=path,
                                                   today=today).results}
        else:
            by_rule = {rule.id: RuleResult(rule.id, "error", severity=rule.severity,
                                           detail="no configuration in the archive")
                       for rule in pack.rules if rule.source == "config"}
        for rule in pack.rules:
            if rule.source == "config":
                result = by_rule[rule.id]
            else:
                result = _data_rule(rule.id, device, statuses, redundancy, uplinks, sources, now_s,
                                    backup_max_age_h, rule.parameters)
                if result.severity != rule.severity and not (rule.id == FIRMWARE_RULE and result.status == "fail"):
                    result = replace(result, severity=rule.severity)  # a failed advisory keeps its own severity
                result = exempted(result, pack.exemptions, device.name, path, today)
            found.append(StoredResult.of(device.name, device.platform, path, result))
    return found


def _data_rule(rule: str, device: Device, statuses: Mapping[str, BackupStatus], redundancy: Mapping[str, RuleResult],
               uplinks: Mapping[str, list[Link]], sources: DataSources, now_s: float, backup_max_age_h: float,
               parameters: Mapping[str, object]) -> RuleResult:
    if rule == BACKUP_RULE:
        return config_backup_fresh(statuses.get(device.name), now_s, backup_max_age_h)
    if rule == REDUNDANCY_RULE:
        return redundancy[device.name]
    if rule == CAPACITY_RULE:
        return _capacity(device, uplinks.get(device.name, []), sources.metrics, now_s, parameters)
    return _firmware(device, sources, now_s)


def _capacity(device: Device, links: Sequence[Link], metrics: UtilisationHistory | None, now_s: float,
              parameters: Mapping[str, object]) -> RuleResult:
    if not links:
        return RuleResult(CAPACITY_RULE, "not-applicable", detail="not the lower end of an area's uplink")
    if metrics is None:
        return RuleResult(CAPACITY_RULE, "error", detail="no metric history configured (compliance.metrics_url)")
    threshold = parameters.get("threshold", 0.70)
    if not isinstance(threshold, int | float):
        return RuleResult(CAPACITY_RULE, "error", detail=f"the parameter threshold {threshold!r} is not a number")
    judged = [capacity_result(metrics, link, now_s, float(threshold)) for link in links]
    # one result per device: the worst of its uplinks, each said in the detail
    worst = next((r for status in ("fail", "error") for r in judged if r.status == status), judged[0])
    return replace(worst, detail="; ".join(r.detail for r in judged))


def _firmware(device: Device, sources: DataSources, now_s: float) -> RuleResult:
    if sources.advisories is None:
        return RuleResult(FIRMWARE_RULE, "error", detail="no advisory file configured (compliance.advisories)")
    version, model = version_of(sources.samples_of(device.name)) if sources.samples_of is not None else (None, None)
    if version is not None:
        return firmware_advisory(device.platform, version, sources.advisories, model)
    known = sources.known_versions.get(device.name) if sources.known_versions is not None else None
    if known is None:
        if sources.samples_of is None and sources.known_versions is None:
            return RuleResult(FIRMWARE_RULE, "error", detail="no SSH facts in this run: neither yiwang run's latest "
                                                             "samples nor the versions stored by its SSH cycles")
        return firmware_advisory(device.platform, None, sources.advisories)
    found = firmware_advisory(device.platform, known.version, sources.advisories, known.model or None)
    return replace(found, detail=f"{found.detail} ({known.said(now_s)})" if found.detail else known.said(now_s))
