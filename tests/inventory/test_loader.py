import json
from pathlib import Path

import pytest

from inventory.loader import load_inventory
from inventory.model import Level

CASES = Path(__file__).parent / "cases"


@pytest.mark.parametrize("case", sorted(p.name for p in CASES.iterdir()))
def test_case_folder(case: str) -> None:
    folder = CASES / case
    result = load_inventory([folder / "inventory.yaml"])
    problems = [str(p).replace(str(folder) + "/", "") for p in result.problems]
    expected = json.loads((folder / "expected_problems.json").read_text(encoding="utf-8"))
    assert sorted(problems) == sorted(expected)


def test_valid_inventory_shape() -> None:
    inv = load_inventory([CASES / "valid"]).inventory
    assert [a.level for a in inv.path("hb.hg.hz.t1.v1")] == list(Level)
    assert inv.path_labels("hb.hg.hz.t1") == {
        "province": "Hubei", "city": "Huanggang", "county": "Huangzhou", "township": "Lushan Town"}
    assert {d.name for d in inv.devices_in("hb.hg.hz.t1")} == {"t1-sw", "v1-ap"}
    assert inv.uplink_of("hb.hg.hz.t1.v1").bandwidth_mbps == 100
    assert inv.devices["v1-ap"].host == "::1"


def test_codes_and_english_names() -> None:
    inv = load_inventory([CASES / "codes-valid"]).inventory
    assert [(a.code, a.name, a.name_en) for a in inv.path("hb.hg.hz.t1.v1")] == [
        ("420000", "湖北省", "Hubei"), ("421100", "黄冈市", "Huanggang"), ("421102", "黄州区", "Huangzhou"),
        ("421102100", "路口镇", "Lukou Town"), ("421102100201", "路口村", None)]
    assert (inv.areas["hb.hg.hz.t2"].code, inv.areas["hb.hg.hz.t2"].name_en) == (None, None)
    # Labels stay the operator's names.
    assert inv.path_labels("hb.hg.hz")["county"] == "黄州区"


def test_a_duplicate_code_keeps_the_first_area() -> None:
    result = load_inventory([CASES / "codes-broken"])
    assert set(result.inventory.areas) == {"hb", "hb.hg", "hb.hg.hz"}
    assert result.inventory.areas["hb.hg.hz"].code == "421102"


def test_broken_entries_do_not_drop_good_ones() -> None:
    result = load_inventory([CASES / "broken"])
    assert set(result.inventory.devices) == {"good"}
    assert set(result.inventory.areas) == {"hb", "hb.hg", "hb.hg.hz"}
    # a literal secret is reported without echoing it
    assert not any("public" in str(p) for p in result.problems)


def test_unreadable_yaml_is_reported(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("areas: [ {id: x\n")
    (tmp_path / "b.yaml").write_text("areas:\n  - {id: hb, name: Hubei, level: province}\n")
    result = load_inventory([tmp_path])
    assert "hb" in result.inventory.areas
    assert len(result.problems) == 1 and "a.yaml" in result.problems[0].file
    assert "cannot be read as YAML" in result.problems[0].message
