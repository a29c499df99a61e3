from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from inventory.loader import load_inventory
from inventory.model import Level, SecretRef
from lab.city import CityPlan
from lab.export import CREDENTIAL, foreign_files, inventory_documents, remove_inventory, write_inventory


@pytest.mark.parametrize("profile", ["small", "city"])
def test_loads_with_zero_problems(profile: str, city: CityPlan, small: CityPlan, tmp_path: Path) -> None:
    plan = city if profile == "city" else small
    secret = tmp_path / "lab" / "community.secret"
    written = plan.to_inventory_yaml(tmp_path / "inventory", secret, port=20161)
    assert sorted(p.name for p in written) == ["areas.yaml", "carriers.yaml", "credentials.yaml", "datacentre.yaml",
                                              "devices.yaml", "links.yaml"]
    result = load_inventory([tmp_path / "inventory"])
    assert result.problems == []
    inv = result.inventory
    assert len(inv.devices) == len(plan.devices)
    assert len(inv.areas) == len(plan.areas)
    # Every area comes back as planned, its administrative code and English name included.
    assert inv.areas == {a.id: a for a in plan.areas}
    assert len(inv.links) == len(plan.links)
    credential = inv.credentials[CREDENTIAL]
    assert credential.kind == "snmp_v2c" and credential.options == {}
    assert credential.secrets == {"community": SecretRef(file=str(secret))}
    core = inv.devices["hg-core-01"]
    assert core.snmp is not None and core.snmp.port == 20161
    assert core.snmp.profiles == ("system", "if-mib", "huawei-entity")
    assert inv.devices["hb-egov-pe01"].host == "::1"
    server = next(d for d in inv.devices.values() if d.platform == "linux")
    assert server.snmp is not None and server.snmp.profiles == ("system", "if-mib", "host-resources")
    assert server.site and server.cabinet
    dc = inv.datacentre
    assert (len(dc.cabinets), len(dc.servers)) == (len(plan.datacentre.cabinets), len(plan.datacentre.servers))
    # every polled server of the old centre is placed, as itself
    polled = {s.device for s in dc.servers.values() if s.device}
    assert polled == {d.name for d in plan.devices if d.role == "server" and d.site == "dc1"}
    village = next(a for a in inv.areas.values() if a.level is Level.VILLAGE)
    assert [a.level for a in inv.path(village.id)] == list(Level)


def test_the_community_is_only_a_file_reference(small: CityPlan, tmp_path: Path) -> None:
    secret = tmp_path / "community.secret"
    documents = inventory_documents(small, secret)
    assert documents["credentials.yaml"]["credentials"] == [
        {"name": CREDENTIAL, "kind": "snmp_v2c", "community": {"file": str(secret)}}]
    assert all(d["snmp"]["credential"] == CREDENTIAL for d in documents["devices.yaml"]["devices"])
    assert yaml.safe_load(yaml.safe_dump(documents)) == documents


def test_the_ipv6_plan_yiwang_wrote_survives_lab_down_and_up(small: CityPlan, tmp_path: Path) -> None:
    folder = tmp_path / "inventory"
    secret = tmp_path / "community.secret"
    secret.write_text("x")
    write_inventory(small, folder, secret)
    (folder / "ipv6-plan.yaml").write_text("ipv6_plan: {}\n")
    assert foreign_files(folder) == []  # no reason to refuse `lab up`
    remove_inventory(folder)  # `lab down`
    assert [p.name for p in folder.iterdir()] == ["ipv6-plan.yaml"]
    (folder / "notes.txt").write_text("the operator's")
    assert foreign_files(folder) == [folder / "notes.txt"]
