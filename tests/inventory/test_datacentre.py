"""The cloud centre's sections of the inventory; the problems of broken entries are in cases/datacentre-*."""

from pathlib import Path

from inventory.loader import load_inventory

CASES = Path(__file__).parent / "cases"


def test_datacentre_loads_sites_rooms_cabinets_and_servers() -> None:
    dc = load_inventory([CASES / "datacentre-valid"]).inventory.datacentre
    assert dc.sites["old"].name == "旧云中心"
    assert dc.sites["new"].name == "new"  # the id stands in for a missing name
    assert [c.id for c in dc.cabinets_of("old")] == ["old-A01", "old-A02"]
    assert dc.cabinets["old-A02"].power_budget_kw == 4.5
    db = dc.servers["db-01"]
    assert (db.position_u, db.top_u, db.power_w, db.device) == (3, 6, 900.0, None)
    assert dc.servers["web-01"].device == "web-01"
    placed = dc.servers_by_cabinet()
    assert [s.name for s in placed["old-A01"]] == ["web-01", "db-01"]
    assert placed["new-A01"] == []


def test_broken_servers_leave_the_good_ones() -> None:
    dc = load_inventory([CASES / "datacentre-broken"]).inventory.datacentre
    assert set(dc.cabinets) == {"A01"}
    # the first s1 keeps U 1-2, so "fits" at U 3 is placed even though "overlap" (U 2-3) was refused
    assert set(dc.servers) == {"s1", "fits"}
    assert dc.cabinets["A01"].height_u == 42  # the first A01, not the duplicate


def test_an_inventory_without_a_datacentre_still_loads() -> None:
    result = load_inventory([CASES / "valid"])
    assert result.inventory.datacentre.cabinets == {}
