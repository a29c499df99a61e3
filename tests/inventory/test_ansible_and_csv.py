import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from inventory.ansible import group_name, to_ansible
from inventory.csv_import import import_villages
from inventory.loader import load_inventory

CASES = Path(__file__).parent / "cases"


@pytest.mark.skipif(shutil.which("ansible-inventory") is None and not Path(".venv/bin/ansible-inventory").exists(),
                    reason="ansible-core is a test dependency; ./dev test installs it")
def test_real_ansible_reads_the_generated_inventory(tmp_path: Path) -> None:
    inv = load_inventory([CASES / "valid"]).inventory
    path = tmp_path / "hosts.yaml"
    path.write_text(yaml.safe_dump(to_ansible(inv)))
    binary = shutil.which("ansible-inventory") or ".venv/bin/ansible-inventory"
    listing = json.loads(subprocess.run([binary, "-i", str(path), "--list"], check=True, capture_output=True,
                                        text=True, env={"ANSIBLE_LOCAL_TEMP": str(tmp_path), "HOME": str(tmp_path),
                                                        "PATH": "/usr/bin:/bin"}).stdout)
    county, township = group_name("hb.hg.hz"), group_name("hb.hg.hz.t1")
    assert township in listing[county]["children"]
    assert listing[township]["hosts"] == ["t1-sw"]
    assert listing["_meta"]["hostvars"]["hz-agg"]["ansible_network_os"] == "community.network.ce"
    graph = subprocess.run([binary, "-i", str(path), "--graph", county], check=True, capture_output=True, text=True,
                           env={"ANSIBLE_LOCAL_TEMP": str(tmp_path), "HOME": str(tmp_path),
                                "PATH": "/usr/bin:/bin"}).stdout
    # The village's device sits beneath its county through the nested groups.
    assert "v1-ap" in graph


def test_csv_import_carries_codes_and_english_names() -> None:
    inv = load_inventory([CASES / "codes-valid"]).inventory
    inv.devices["t1-sw"] = load_inventory([CASES / "valid"]).inventory.devices["t1-sw"]
    text = (
        "township_id,village,village_code,village_name_en,device,platform,address,uplink_interface,"
        "parent_interface,carrier,bandwidth_mbps\n"
        "hb.hg.hz.t1,堵城村,421102100202,Ducheng Village,v2-sw,huawei_vrp,127.20.1.2,Gi0/0/1,Gi1/0/3,"
        "China Telecom,100\n"
        "hb.hg.hz.t1,新村,,,v3-sw,huawei_vrp,127.20.1.3,Gi0/0/1,Gi1/0/4,China Telecom,100\n"
        "hb.hg.hz.t1,陈家村,421102100203,,v4-sw,huawei_vrp,127.20.1.4,Gi0/0/1,Gi1/0/5,China Telecom,100\n"
        "hb.hg.hz.t1,路口村,421102100201,,v5-sw,huawei_vrp,127.20.1.5,Gi0/0/1,Gi1/0/6,China Telecom,100\n"
        "hb.hg.hz.t1,李家村,421102100203,,v6-sw,huawei_vrp,127.20.1.6,Gi0/0/1,Gi1/0/7,China Telecom,100\n"
        "hb.hg.hz.t1,王家村,4211021002,,v7-sw,huawei_vrp,127.20.1.7,Gi0/0/1,Gi1/0/8,China Telecom,100\n"
    )
    result = import_villages(text, "villages.csv", inv)
    assert result.areas == [
        {"id": "hb.hg.hz.t1.ducheng-village", "name": "堵城村", "level": "village", "parent": "hb.hg.hz.t1",
         "code": "421102100202", "name_en": "Ducheng Village"},
        {"id": "hb.hg.hz.t1.421102100203", "name": "陈家村", "level": "village", "parent": "hb.hg.hz.t1",
         "code": "421102100203"}]
    assert result.problems == [
        "villages.csv:3: column 'village_id': needed when the village has neither a Latin name nor a code",
        "villages.csv:5: column 'village_code': '421102100201' already exists",
        "villages.csv:6: column 'village_code': '421102100203' already exists",
        "villages.csv:7: column 'village_code': '4211021002' has 10 digits; a village's code has 12",
    ]


def test_csv_import_reports_bad_rows_and_keeps_good_ones() -> None:
    inv = load_inventory([CASES / "valid"]).inventory
    text = (
        "township_id,village,device,platform,address,uplink_interface,parent_interface,carrier,bandwidth_mbps\n"
        "hb.hg.hz.t1,Xinhe Village,v2-sw,huawei_vrp,127.20.1.2,GigabitEthernet0/0/1,GigabitEthernet1/0/3,"
        "China Telecom,100\n"
        "hb.hg.hz.t9,Ghost Village,v3-sw,huawei_vrp,127.20.1.3,Gi0/0/1,Gi1/0/4,China Telecom,100\n"
        "hb.hg.hz.t1,Bad Addr,v4-sw,huawei_vrp,999.1.1.1,Gi0/0/1,Gi1/0/5,China Telecom,100\n"
        "hb.hg.hz.t1,Dup,v2-sw,huawei_vrp,127.20.1.5,Gi0/0/1,Gi1/0/6,China Telecom,100\n"
        "hb.hg.hz.t1,Slow,v5-sw,huawei_vrp,127.20.1.6,Gi0/0/1,Gi1/0/7,China Telecom,fast\n"
    )
    result = import_villages(text, "villages.csv", inv)
    assert [d["name"] for d in result.devices] == ["v2-sw"]
    assert result.problems == [
        "villages.csv:3: column 'township_id': 'hb.hg.hz.t9' is not a township in the inventory",
        "villages.csv:4: column 'address': '999.1.1.1' does not appear to be an IPv4 or IPv6 address",
        "villages.csv:5: column 'device': 'v2-sw' already exists",
        "villages.csv:6: column 'bandwidth_mbps': 'fast' is not a number",
    ]
    # The import is itself loadable inventory, together with what was there.
    merged = {"areas": [], "devices": [], "links": [], "credentials": []}
    base = yaml.safe_load((CASES / "valid" / "inventory.yaml").read_text())
    for key in merged:
        merged[key] = base.get(key, []) + result.document().get(key, [])
    from inventory.loader import build_inventory

    loaded = build_inventory({k: [("x", i, e) for i, e in enumerate(v)] for k, v in merged.items()}, [])
    assert loaded.problems == []
    assert loaded.inventory.uplink_of("hb.hg.hz.t1.xinhe-village").remote.device == "t1-sw"
