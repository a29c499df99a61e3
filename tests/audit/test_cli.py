"""`yiwang audit list|verify`, and the audit records that local state-changing commands write."""

from __future__ import annotations

import getpass
import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

from tests.audit.conftest import event
from tests.audit.rsyslog import Rsyslog
from yiwang.audit import AuditTrail
from yiwang.audit.syslog import BOM

ROOT = Path(__file__).resolve().parents[2]
INVENTORY = """\
areas:
  - {id: hb, name: Hubei, level: province}
  - {id: hb.hg, name: Huanggang, level: city, parent: hb}
  - {id: hb.hg.hz, name: Huangzhou, level: county, parent: hb.hg}
devices:
  - {name: hz-agg, platform: huawei_vrp, role: aggregation, area: hb.hg.hz, address: 127.20.0.1}
"""


def cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "yiwang", *args, "-c", str(config)], capture_output=True, text=True,
                          timeout=120, cwd=ROOT, env={**os.environ, "COLUMNS": "250", "PYTHONPATH": str(ROOT)})


def configure(tmp_path: Path, **extra: object) -> tuple[Path, Path]:
    (tmp_path / "inventory").mkdir()
    (tmp_path / "inventory" / "inventory.yaml").write_text(INVENTORY)
    config = tmp_path / "yiwang.yaml"
    config.write_text(yaml.safe_dump({"state_dir": str(tmp_path / "state"), "inventory": [str(tmp_path / "inventory")],
                                      **extra}))
    return config, tmp_path / "state" / "audit" / "audit.jsonl"


def test_verify_exit_codes_on_a_hand_edited_file(tmp_path: Path) -> None:
    config, path = configure(tmp_path)
    trail = AuditTrail(path)
    for n, outcome in enumerate(["ok", "denied", "ok"], start=1):
        trail.append(event(n, outcome=outcome))
    intact = cli(config, "audit", "verify")
    assert intact.returncode == 0, intact.stderr
    assert "链完整 chain intact: 3 records" in intact.stdout
    path.write_text(path.read_text().replace('"outcome":"denied"', '"outcome":"ok"'))
    broken = cli(config, "audit", "verify")
    assert broken.returncode == 1
    said = " ".join(broken.stderr.split())
    assert "chain broken at record 2 line 2" in said and "record 2 was altered" in said, said


def test_list(tmp_path: Path) -> None:
    config, path = configure(tmp_path)
    trail = AuditTrail(path)
    trail.append(event(1, identity="[bold red]mallory[/bold red]", outcome="denied"))
    trail.append(event(2, identity="bob", action="config.backup"))
    as_json = cli(config, "audit", "list", "--json")
    assert as_json.returncode == 0, as_json.stderr
    assert [json.loads(line)["seq"] for line in as_json.stdout.splitlines()] == [2, 1]
    table = cli(config, "audit", "list", "--outcome", "denied")
    assert table.returncode == 0, table.stderr
    assert "[bold red]mallory[/bold red]" in table.stdout  # shown as written, not as markup
    assert "身份" in table.stdout and "identity" in table.stdout and "config.backup" not in table.stdout
    assert "1 条记录 records" in table.stdout
    since = cli(config, "audit", "list", "--since", "1h", "--action", "config.", "--json")
    assert [json.loads(line)["identity"] for line in since.stdout.splitlines()] == ["bob"]
    assert cli(config, "audit", "list", "--since", "yesterday").returncode == 2


def test_local_commands_that_change_state_are_audited(tmp_path: Path) -> None:
    config, path = configure(tmp_path)
    assert cli(config, "db", "upgrade").returncode == 0
    silenced = cli(config, "alerts", "silence", "--area", "hb.hg.hz", "--for", "1h", "--comment", "cutover",
                   "--by", "duty")
    assert silenced.returncode == 0, silenced.stderr
    silence_id = silenced.stdout.split()[1]
    assert cli(config, "alerts", "unsilence", silence_id).returncode == 0
    assert cli(config, "alerts", "unsilence", "424242").returncode == 1
    assert cli(config, "alerts", "ack", "0000000000000000", "--by", "x").returncode == 1
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(r["action"], r["target"], r["outcome"].split(":")[0]) for r in records] == [
        ("db.upgrade", f"sqlite:///{tmp_path}/state/yiwang.sqlite", "ok"),
        ("alerts.silence", "area=hb.hg.hz", "ok"),
        ("alerts.unsilence", silence_id, "ok"),
        ("alerts.unsilence", "424242", "failed"),
        ("alerts.ack", "0000000000000000", "failed"),
    ]
    assert records[3]["outcome"] == "failed: no silence 424242"
    assert records[1]["parameters"]["comment"] == "cutover" and str(records[1]["parameters"]["id"]) == silence_id
    for r in records:
        assert (r["identity"], r["identity_kind"], r["roles"]) == (getpass.getuser(), "os", [])
        assert r["source"].startswith("local:")
    assert cli(config, "audit", "verify").returncode == 0


def test_local_records_are_copied_to_syslog(tmp_path: Path, rsyslog: Rsyslog) -> None:
    config, _ = configure(tmp_path, audit={"syslog": {"host": "127.0.0.1", "port": rsyslog.tcp_port,
                                                      "protocol": "tcp", "app_name": "yiwang-cli"}})
    assert cli(config, "db", "upgrade").returncode == 0
    got = rsyslog.wait_for(1)
    assert [(m["app"], m["msgid"]) for m in got] == [("yiwang-cli", "db.upgrade")]
    assert json.loads(got[0]["msg"].removeprefix(BOM.decode()))["identity"] == getpass.getuser()
