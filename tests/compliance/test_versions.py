"""The versions the SSH collector read, kept in SQL by a pipeline stage (yiwang.versions), over a real SQLite file."""

from __future__ import annotations

from pathlib import Path

from collectors.base import PollResult
from collectors.model import Sample
from yiwang.pipeline import CycleReport
from yiwang.store import open_store
from yiwang.versions import KnownVersion, VersionStage, VersionStore, known_version

T0 = 1_796_000_000.0


def _facts(device: str, version: str, at_s: float, model: str = "S5735") -> PollResult:
    tags = (("device", device),)
    return PollResult(device, "ssh", [
        Sample("ssh_device", tags, {"interfaces_up": 3.0}, int(at_s * 1e9)),
        Sample("device_facts", (*tags, ("model", model), ("serial", "X1"), ("version", version)), {"info": 1.0},
               int(at_s * 1e9))], ok=True)


async def test_each_ssh_cycle_stores_the_newest_version_of_each_device(tmp_path: Path) -> None:
    store = VersionStore(open_store(f"sqlite:///{tmp_path / 'y.db'}").engine)
    stage = VersionStage(store)
    stage.take(_facts("sw1", "V200R019C10SPC500", T0))
    stage.take(_facts("sw2", "V200R019C10SPC800", T0))
    stage.take(PollResult("sw3", "snmp", [Sample("device_facts", (("device", "sw3"), ("version", "x")), {}, 1)], True))
    stage.take(_facts("sw4", "", T0))  # facts without a version: nothing known
    assert store.known() == {}  # written when the cycle settles
    await stage.settle(CycleReport("ssh"))
    assert store.known() == {"sw1": KnownVersion("V200R019C10SPC500", "S5735", T0),
                             "sw2": KnownVersion("V200R019C10SPC800", "S5735", T0)}
    stage.take(_facts("sw1", "V200R020C00SPC100", T0 + 300, model=""))
    stage.take(_facts("sw2", "V1", T0 - 300))  # older than the stored reading (a late worker): ignored
    await stage.settle(CycleReport("ssh"))
    await stage.settle(CycleReport("ssh"))  # an empty cycle changes nothing
    assert store.known() == {"sw1": KnownVersion("V200R020C00SPC100", "", T0 + 300),
                             "sw2": KnownVersion("V200R019C10SPC800", "S5735", T0)}


def test_a_devices_long_text_is_cut_to_the_column_and_the_age_is_said() -> None:
    found = known_version(_facts("sw1", "V" * 500, T0, model="M" * 300).samples)
    assert found is not None and len(found.version) == 200 and len(found.model) == 200
    assert found.said(T0 + 26.5 * 3600) == "the version the SSH collector read 26.5 h ago (2026-11-30 00:53 UTC)"
