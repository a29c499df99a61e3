"""`yiwang capacity datacentre|plan-move` as a person runs them: a subprocess, an inventory folder holding a
datacentre.yaml small enough to count by hand."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
# old: C1 10 U 2 kW with a (U1-2, 500 W) and b (U5, 300 W); C2 10 U 1 kW with d (U1-4, 1200 W: over budget).
# new: N1, N2 10 U 1.5 kW, empty.
DATACENTRE = {
    "sites": [{"id": "old", "name": "旧云中心"}, {"id": "new", "name": "新云中心"}],
    "rooms": [{"id": "r1", "site": "old"}, {"id": "r2", "site": "new"}],
    "cabinets": [{"id": i, "site": s, "room": r, "height_u": 10, "power_budget_kw": kw}
                 for i, s, r, kw in (("C1", "old", "r1", 2), ("C2", "old", "r1", 1), ("N1", "new", "r2", 1.5),
                                     ("N2", "new", "r2", 1.5))],
    "servers": [{"name": "a", "cabinet": "C1", "position_u": 1, "height_u": 2, "power_w": 500},
                {"name": "b", "cabinet": "C1", "position_u": 5, "height_u": 1, "power_w": 300},
                {"name": "d", "cabinet": "C2", "position_u": 1, "height_u": 4, "power_w": 1200}],
}
AREAS = {"areas": [{"id": "hb", "name": "湖北", "level": "province"}]}


def setup(tmp_path: Path, datacentre: object = DATACENTRE) -> Path:
    folder = tmp_path / "inventory"
    folder.mkdir(parents=True)
    (folder / "areas.yaml").write_text(yaml.safe_dump(AREAS, allow_unicode=True))
    if datacentre is not None:
        (folder / "datacentre.yaml").write_text(yaml.safe_dump(datacentre, allow_unicode=True))
    config = tmp_path / "yiwang.yaml"
    config.write_text(yaml.safe_dump({"state_dir": str(tmp_path / "state"), "inventory": [str(folder)]}))
    return config


def cli(config: Path, *args: str) -> tuple[int, str, str]:
    done = subprocess.run([sys.executable, "-m", "yiwang", "capacity", *args, "-c", str(config)],
                          capture_output=True, text=True, timeout=120, cwd=ROOT,
                          env={**os.environ, "COLUMNS": "250", "PYTHONPATH": str(ROOT)})
    return done.returncode, done.stdout, done.stderr


def test_datacentre_json_per_site_and_cabinet(tmp_path: Path) -> None:
    code, stdout, _ = cli(setup(tmp_path), "datacentre", "--json")
    assert code == 0
    got = json.loads(stdout)
    old, new = got["sites"]
    # old: 2 + 1 + 4 = 7 U of 20; 500 + 300 + 1200 = 2000 W of 3000 W
    assert (old["used_u"], old["free_u"], old["power_w"], old["budget_w"], old["servers"]) == (7, 13, 2000, 3000, 3)
    assert old["over_budget"] == ["C2"] and new["servers"] == 0
    c2 = next(c for c in got["cabinets"] if c["cabinet"] == "C2")
    assert (c2["over_budget"], c2["power_pct"]) == (True, 120.0)


def test_datacentre_table_names_the_cabinet_over_budget_and_the_month(tmp_path: Path) -> None:
    code, stdout, _ = cli(setup(tmp_path), "datacentre", "--growth", "1")
    assert code == 0
    assert "机柜 cabinet" in stdout and "预算 kW" in stdout and "超预算 over budget" in stdout
    assert "C2" in stdout and "C1" not in stdout.split("需关注的机柜")[1].split("old:")[0]  # C1 needs no attention
    # old's average server: (2 + 1 + 4) / 3 = 2.33 U -> 3 U, 2000 / 3 = 667 W. 3 U slots: C1 U 6-8 (one); C2 U 5-7
    # and 8-10 (two); by power: C1 1200 W left -> 1, C2 none. So 1 fits: at 1 a month, gone in the second month.
    assert "room for 1 more" in stdout


def test_datacentre_csv_one_site(tmp_path: Path) -> None:
    code, stdout, _ = cli(setup(tmp_path), "datacentre", "--site", "new", "--csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(stdout)))
    assert [(r["cabinet"], r["free_u"], r["budget_kw"]) for r in rows] == [("N1", "10", "1.5"), ("N2", "10", "1.5")]


def test_unknown_site_and_no_datacentre(tmp_path: Path) -> None:
    code, _, stderr = cli(setup(tmp_path), "datacentre", "--site", "mars")
    assert code == 2 and "no site 'mars'" in stderr and "Traceback" not in stderr
    code, stdout, _ = cli(setup(tmp_path / "bare", None), "datacentre")
    assert code == 0 and "no data centre in the inventory" in stdout


def test_plan_move_places_and_says_what_is_left(tmp_path: Path) -> None:
    # 1 U 500 W into new: 1500 W per cabinet -> 3 each by power, though 10 U each
    code, stdout, _ = cli(setup(tmp_path), "plan-move", "--servers", "4", "--to", "new", "--server-u", "1",
                          "--server-w", "500", "--json")
    assert code == 0
    plan = json.loads(stdout)
    assert [(p["cabinet"], p["positions"]) for p in plan["placements"]] == [("N1", [1, 2, 3]), ("N2", [1])]
    # left: 20 - 4 U; budget 3000 - 2000 W
    assert (plan["needed_u"], plan["needed_w"], plan["free_u_after"], plan["headroom_w_after"]) == (4, 2000, 16, 1000)
    code, stdout, _ = cli(setup(tmp_path / "t"), "plan-move", "--servers", "4", "--to", "new", "--server-u", "1",
                          "--server-w", "500")
    assert code == 0 and "N1" in stdout and "U1 U2 U3" in stdout


def test_plan_move_refused_when_the_site_cannot_take_them(tmp_path: Path) -> None:
    code, stdout, stderr = cli(setup(tmp_path), "plan-move", "--servers", "7", "--to", "new", "--server-u", "1",
                               "--server-w", "500")
    assert code == 1
    assert "拒绝 refused: site 'new' can take 6 of the 7 servers" in " ".join(stderr.split())
    assert "Traceback" not in stderr
