"""`yiwang change plan-ipv6` end to end: the real command line in a subprocess, a configuration and the small lab's
inventory in a tmp folder, the audit trail read back."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from tests.change.conftest import PREFIX, Docs, load, write_documents
from yiwang.audit import AuditTrail
from yiwang.change.ipv6plan import PLAN_FILE

ROOT = Path(__file__).resolve().parents[2]


def cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "yiwang", *args, "-c", str(config)], capture_output=True,
                          text=True, timeout=120, cwd=ROOT, env={**os.environ, "COLUMNS": "200",
                                                                  "PYTHONPATH": str(ROOT)})


def configure(tmp_path: Path, docs: Docs, inventory: bool = True) -> tuple[Path, Path, Path]:
    folder = write_documents(tmp_path / "inventory", docs)
    config = tmp_path / "yiwang.yaml"
    settings: dict[str, object] = {"state_dir": str(tmp_path / "state")}
    if inventory:
        settings["inventory"] = [str(folder)]
    config.write_text(yaml.safe_dump(settings))
    return config, folder, tmp_path / "state" / "audit" / "audit.jsonl"


def test_plan_dry_run_write_and_replan(tmp_path: Path, small_docs: Docs) -> None:
    config, folder, audit = configure(tmp_path, small_docs)
    plan_file = folder / PLAN_FILE

    dry = cli(config, "change", "plan-ipv6", "--prefix", PREFIX, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    said = " ".join(dry.stdout.split())
    assert "IPv6 plan for hb.hg (黄冈市) from 2408:8000:1234::/48 (first plan: the lengths were chosen now)" in said
    assert "township /54 4 15 hb.hg.huangzhou: 7 (needs 3 bits)" in said, said
    assert "village 232 new 0 kept 0 released" in said and "links 241 new" in said
    assert f"dry run: {plan_file} not written" in said
    assert not plan_file.exists()

    done = cli(config, "change", "plan-ipv6", "--prefix", PREFIX)
    assert done.returncode == 0, done.stderr
    assert f"wrote {plan_file}" in done.stdout
    written = plan_file.read_bytes()
    assert written.startswith(b"# The IPv6 address plan, written by `yiwang change plan-ipv6`")
    assert load(folder).problems == []

    again = cli(config, "change", "plan-ipv6", "--prefix", PREFIX)
    assert again.returncode == 0, again.stderr
    assert "village 0 new 232 kept 0 released" in " ".join(again.stdout.split())
    assert "the lengths kept from the plan file" in again.stdout
    assert plan_file.read_bytes() == written

    check = cli(config, "inventory", "check")
    assert check.returncode == 0 and "inventory is valid" in check.stdout, check.stderr

    records = AuditTrail(audit).records(action="change.plan-ipv6")
    assert [(r.outcome, r.parameters["dry_run"], r.parameters.get("new"), r.parameters.get("kept"))
            for r in reversed(records)] == [("ok", True, 724, 0), ("ok", False, 724, 0), ("ok", False, 0, 724)]
    assert {r.target for r in records} == {str(plan_file)}
    assert all(r.parameters["prefix"] == PREFIX and r.parameters["area"] == "hb.hg" for r in records)


def test_refusals_exit_1_write_nothing_and_are_audited(tmp_path: Path, small_docs: Docs) -> None:
    config, folder, audit = configure(tmp_path, small_docs)
    bad = cli(config, "change", "plan-ipv6", "--prefix", "2408:8000:1234::1/48")
    assert bad.returncode == 1
    assert "has host bits set: the prefix is 2408:8000:1234::/48" in " ".join(bad.stderr.split())
    small = cli(config, "change", "plan-ipv6", "--prefix", "2408:8000:1234:4400::/56")
    assert small.returncode == 1
    assert "the tree needs 11" in " ".join(small.stderr.split())
    assert not (folder / PLAN_FILE).exists()
    assert cli(config, "change", "plan-ipv6", "--prefix", PREFIX).returncode == 0
    other = cli(config, "change", "plan-ipv6", "--prefix", "2408:8000:4321::/48")
    assert other.returncode == 1 and "would renumber every one" in " ".join(other.stderr.split())
    outcomes = [r.outcome for r in reversed(AuditTrail(audit).records(action="change.plan-ipv6"))]
    assert [o.split(":")[0] for o in outcomes] == ["failed", "failed", "ok", "failed"]
    assert "host bits set" in outcomes[0] and "would renumber" in outcomes[3]


def test_inventory_dir_without_a_configured_inventory(tmp_path: Path, small_docs: Docs) -> None:
    config, folder, _ = configure(tmp_path, small_docs, inventory=False)
    done = cli(config, "change", "plan-ipv6", "--prefix", PREFIX, "--inventory-dir", str(folder))
    assert done.returncode == 0, done.stderr
    assert (folder / PLAN_FILE).exists()
    missing = cli(config, "change", "plan-ipv6", "--prefix", PREFIX, "--inventory-dir", str(tmp_path / "nowhere"))
    assert missing.returncode == 1 and "no such folder" in missing.stderr
