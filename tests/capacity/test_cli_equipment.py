"""`yiwang capacity equipment` as a person runs it: a state folder, a SQLite file holding the versions `yiwang run`'s
SSH cycles stored, and a lifecycle file whose dates are set around today so that each status shows."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import yaml

from yiwang.capacity.equipment import add_months
from yiwang.store import open_store
from yiwang.versions import KnownVersion, VersionStore

ROOT = Path(__file__).parents[2]
ENV = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "COLUMNS": "200"}
INVENTORY = {
    "areas": [{"id": "hb", "name": "湖北", "level": "province"},
              {"id": "hb.hg", "name": "黄冈", "level": "city", "parent": "hb"},
              {"id": "hb.hg.c1", "name": "黄州区", "level": "county", "parent": "hb.hg"},
              {"id": "hb.hg.c2", "name": "团风县", "level": "county", "parent": "hb.hg"}],
    "devices": [{"name": n, "platform": p, "role": "access", "area": a, "address": f"127.0.0.{i + 1}"}
                for i, (n, p, a) in enumerate([("c1-sw1", "cisco_ios", "hb.hg.c1"), ("c1-sw2", "cisco_ios", "hb.hg.c1"),
                                               ("c1-r1", "cisco_ios", "hb.hg.c1"),
                                               ("c2-agg", "huawei_vrp", "hb.hg.c2"),
                                               ("c2-new", "huawei_vrp", "hb.hg.c2")])]}


def _state(tmp_path: Path, lifecycle: object) -> Path:
    (tmp_path / "inventory").mkdir()
    (tmp_path / "inventory" / "inventory.yaml").write_text(yaml.safe_dump(INVENTORY, allow_unicode=True))
    (tmp_path / "lifecycle.yaml").write_text(lifecycle if isinstance(lifecycle, str) else yaml.safe_dump(lifecycle))
    config = tmp_path / "yiwang.yaml"
    config.write_text(yaml.safe_dump({"state_dir": str(tmp_path), "database_url": f"sqlite:///{tmp_path}/y.db",
                                      "audit": {"path": str(tmp_path / "audit.jsonl")},
                                      "capacity": {"lifecycle_file": "lifecycle.yaml"}}))  # relative to the file
    # what the SSH cycles of a `yiwang run` on this database wrote; c2-new has not been read yet
    VersionStore(open_store(f"sqlite:///{tmp_path}/y.db").engine).record({
        "c1-sw1": KnownVersion("15.2(7)E4", "C2960X-24TS-L", 100.0),
        "c1-sw2": KnownVersion("15.2(4)E8", "C2960X-24TS-L", 100.0),
        "c1-r1": KnownVersion("16.9.4", "ISR4331", 100.0),
        "c2-agg": KnownVersion("V800R010C10SPC500", "NE20E-S2F", 100.0)})
    return config


def _lifecycle() -> list[dict[str, str]]:
    today = date.today()
    return [{"platform": "cisco_ios", "model": "C2960X-*", "end_of_sale": str(today - timedelta(days=900)),
             "end_of_life": str(today - timedelta(days=1)), "source": "n1", "replacement": "C9200L-24T-4X"},
            {"platform": "cisco_ios", "model": "ISR4331", "end_of_sale": str(today - timedelta(days=30)),
             "end_of_life": str(add_months(today, 12)), "source": "n2"},
            {"platform": "huawei_vrp", "model": "NE20E-S2F", "end_of_sale": str(today + timedelta(days=30)),
             "end_of_life": str(add_months(today, 12) + timedelta(days=1)), "source": "n3"}]


def _yiwang(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "yiwang", "capacity", "equipment", *args, "-c", str(config)],
                          capture_output=True, text=True, timeout=120, env=ENV)


def test_json_counts_every_device_and_lists_the_replacements(tmp_path: Path) -> None:
    done = _yiwang(_state(tmp_path, _lifecycle()), "--json")
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert found["devices"] == 5 and found["lifecycle_file"] == str(tmp_path / "lifecycle.yaml")
    counts = {(m["county"], m["model"]): m["count"] for m in found["models"]}
    # two 2960-X and an ISR in 黄州区; in 团风县 the NE20E and c2-new, whose model is not read yet (None)
    assert counts == {("hb.hg.c1", "C2960X-24TS-L"): 2, ("hb.hg.c1", "ISR4331"): 1,
                      ("hb.hg.c2", "NE20E-S2F"): 1, ("hb.hg.c2", None): 1}
    switches = next(m for m in found["models"] if m["model"] == "C2960X-24TS-L")
    assert switches["versions"] == [{"version": "15.2(4)E8", "count": 1}, {"version": "15.2(7)E4", "count": 1}]
    # the 2960-X's support ended yesterday; the ISR's ends exactly 12 months from today; the NE20E's a day later
    # and its sale has not ended: not on the list
    assert [(r["device"], r["status"]) for r in found["replacements"]] == [
        ("c1-sw1", "eol-passed"), ("c1-sw2", "eol-passed"), ("c1-r1", "eol-within-12-months")]
    assert found["replacements"][0]["replacement"] == "C9200L-24T-4X"


def test_the_table_in_chinese_first_and_an_area(tmp_path: Path) -> None:
    config = _state(tmp_path, _lifecycle())
    done = _yiwang(config)
    assert done.returncode == 0, done.stderr
    for heading in ("县 county", "型号 model", "数量 count", "版本 versions", "停售 end of sale", "停服 end of life",
                    "待替换 replacement list: 3 devices", "未知型号 unknown model", "已停服 eol-passed"):
        assert heading in done.stdout, heading
    # no metric history configured: the uptime column and a line say so
    assert "无历史库 no history" in done.stdout and "运行时间 uptime: no metric history configured" in done.stderr
    area = _yiwang(config, "--area", "hb.hg.c2", "--csv")
    assert area.returncode == 0, area.stderr
    rows = list(csv.DictReader(io.StringIO(area.stdout)))
    assert [(r["device"], r["model"], r["status"]) for r in rows] == [("c2-agg", "NE20E-S2F", ""),
                                                                      ("c2-new", "", "")]
    unknown = _yiwang(config, "--area", "nowhere")
    assert unknown.returncode == 2 and "no area 'nowhere'" in unknown.stderr


def test_a_broken_lifecycle_file_is_one_clear_line(tmp_path: Path) -> None:
    text = "- platform: cisco_ios\n  model: ISR4331\n  end_of_sale: 2023-11-30\n  end_of_life: 2027-02-30\n" \
           "  source: n\n"
    done = _yiwang(_state(tmp_path, text), "--json")
    assert done.returncode == 2 and done.stdout == ""
    assert f"{tmp_path / 'lifecycle.yaml'}:4: entry 1 (ISR4331): end_of_life: '2027-02-30' is not a date" \
           in " ".join(done.stderr.split())
    assert "Traceback" not in done.stderr
