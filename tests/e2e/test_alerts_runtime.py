"""The alert engine in the running monitor: the lab's township goes dark, one roll-up alert fires and resolves,
and a restart mid-incident neither re-sends nor forgets."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

from lab import lab_clear, lab_fault
from lab.peers import free_port, recorder
from tests.e2e.conftest import immediate_rules
from yiwang.assemble import assemble
from yiwang.config import load_settings
from yiwang.stages import AlertsStage


def _config(tmp_path: Path, lab_state: Path, webhook_port: int) -> Path:
    immediate_rules(tmp_path / "rules.yaml")
    config = tmp_path / "yiwang.yaml"
    config.write_text(yaml.safe_dump({
        "state_dir": str(lab_state), "database_url": f"sqlite:///{tmp_path}/y.db",
        "poll": {"timeout_s": 1.0, "retries": 1, "icmp_count": 2}, "alerts": {"rules": ["rules.yaml"], "notifiers": [
            {"name": "noc", "type": "webhook", "url": f"http://127.0.0.1:{webhook_port}/hook"}]}}))
    return config


async def _cycle(assembly) -> list:  # type: ignore[no-untyped-def]
    sent = []
    alerts = next(s for s in assembly.monitor.stages if isinstance(s, AlertsStage))
    for name in ("snmp", "icmp"):
        await assembly.monitor.cycle(name)
        sent += [t for t in alerts.last_transitions if t.notify]
    return sent


async def test_county_storm_is_one_alert_across_a_restart(lab_state: Path, tmp_path: Path) -> None:
    port = free_port()
    with recorder(port) as webhook:
        await _scenario(lab_state, tmp_path, port, webhook)


async def _scenario(lab_state: Path, tmp_path: Path, port: int, webhook) -> None:  # type: ignore[no-untyped-def]
    config = _config(tmp_path, lab_state, port)
    assembly = assemble(load_settings(config), workers=1)
    inv = assembly.services.inventory
    # the storm: the county's uplink device and everything behind it, 240 devices in the small lab
    township = "hb.hg.huangzhou"
    villages = [a for a in inv.subtree(township) if inv.areas[a].level.label == "village"]
    try:
        assert await _cycle(assembly) == []  # a healthy lab raises nothing
        lab_fault(lab_state, "unreachable", township)
        sent = await _cycle(assembly)
        assert [(t.kind, t.rule) for t in sent] == [("firing", "area_outage")]
        assert sent[0].labels["area"] == township and sent[0].counts["villages"] == len(villages) > 200
        assert "黄州区" in sent[0].annotations["summary"]
        assert [(b["kind"], b["rule"], b["labels"]["area"]) for b in webhook.bodies] == [
            ("firing", "area_outage", township)]
        assert webhook.bodies[0]["counts"]["villages"] == len(villages)
        active = assembly.services.alerts.active()
        assert [a["rule"] for a in active if a["status"] == "firing" and not a["suppressed_by"]] == ["area_outage"]
    finally:
        await assembly.close()

    # a restart in the middle of the incident: the state comes back from the SQL store
    assembly = assemble(load_settings(config), workers=1)
    try:
        assert await _cycle(assembly) == []  # not sent again
        lab_clear(lab_state)
        sent = await _cycle(assembly)
        assert [(t.kind, t.rule) for t in sent] == [("resolved", "area_outage")]
        assert [b["kind"] for b in webhook.bodies] == ["firing", "resolved"]  # exactly one each, across the restart
        history = assembly.services.store.alert_history(1000)
        assert [h["kind"] for h in history if h["notify"]] == ["resolved", "firing"]
    finally:
        lab_clear(lab_state)
        await assembly.close()


def _cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "yiwang", "alerts", *args, "-c", str(config)], capture_output=True,
                          text=True, timeout=120)


async def test_silence_ack_and_export_through_the_cli(lab_state: Path, tmp_path: Path) -> None:
    port = free_port()
    with recorder(port) as webhook:
        config = _config(tmp_path, lab_state, port)
        assembly = assemble(load_settings(config), workers=1)
        inv = assembly.services.inventory
        township = sorted(a for a in inv.areas if a.count(".") == 3)[3]
        try:
            await _cycle(assembly)
            silenced = _cli(config, "silence", "--area", township, "--for", "1h", "--comment", "cutover")
            assert silenced.returncode == 0, silenced.stderr
            silence_id = silenced.stdout.split()[1]
            lab_fault(lab_state, "unreachable", township)
            assert await _cycle(assembly) == []  # evaluated, not sent
            listed = json.loads(_cli(config, "list", "--json").stdout)
            outage = next(a for a in listed if a["rule"] == "area_outage")
            assert outage["status"] == "firing" and outage["labels"]["area"] == township
            assert webhook.bodies == []
            assert _cli(config, "unsilence", silence_id).returncode == 0
            sent = await _cycle(assembly)  # held while silenced, sent once the silence ends
            assert [(t.kind, t.rule) for t in sent] == [("firing", "area_outage")]
            acked = _cli(config, "ack", outage["fingerprint"], "--by", "duty-engineer")
            assert acked.returncode == 0, acked.stderr
            assert await _cycle(assembly) == []
            assert _cli(config, "ack", "0000000000000000", "--by", "x").returncode == 1
        finally:
            lab_clear(lab_state)
            await assembly.close()
        exported = _cli(config, "export", "--out-dir", str(tmp_path / "export"))
        assert exported.returncode == 0, exported.stderr
        check = subprocess.run(["promtool", "check", "rules", str(tmp_path / "export" / "yiwang-rules.yml")],
                               capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr
        assert len(webhook.bodies) == 1


async def test_a_village_failing_alone_is_one_village_alert(lab_state: Path, tmp_path: Path) -> None:
    port = free_port()
    with recorder(port) as webhook:
        assembly = assemble(load_settings(_config(tmp_path, lab_state, port)), workers=1)
        village = sorted(a for a in assembly.services.inventory.areas if a.count(".") == 4)[5]
        try:
            await _cycle(assembly)
            lab_fault(lab_state, "unreachable", village)
            sent = await _cycle(assembly)
            assert len(sent) == 1 and sent[0].kind == "firing"
            assert sent[0].labels["area"] == village and sent[0].counts["villages"] == 1
            assert len(webhook.bodies) == 1
        finally:
            lab_clear(lab_state)
            await assembly.close()
