"""The cloud centre's capacity on a centre small enough to count by hand (the drawing below is the whole of it)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from collectors.model import Sample, make_tags
from inventory.datacentre import Cabinet, Datacentre, Room, Server, Site
from yiwang.capacity.datacentre import (
    Utilisation,
    cabinet_usage,
    free_runs,
    plan_move,
    report,
    runs_out,
    site_usage,
    utilisation_from_samples,
)

HOST_RESOURCES = Path(__file__).parents[1] / "collectors" / "cases" / "host-resources" / "expected.json"


def centre() -> Datacentre:
    """old: A01 10 U 2 kW: a U1-2 500 W, b U5 300 W, c U8-10 900 W (free U3-4 and U6-7, 300 W left)
            A02 10 U 1 kW: d U1-4 1200 W (over its budget by 200 W; free U5-10)
            A03 10 U 3 kW: empty
       new: B01, B02 10 U 1.5 kW each: empty"""
    dc = Datacentre()
    dc.sites = {"old": Site("old", "旧云中心"), "new": Site("new", "新云中心")}
    dc.rooms = {"r1": Room("r1", "old", "一号机房"), "r2": Room("r2", "new", "二号机房")}
    for ident, site, room, kw in (("A01", "old", "r1", 2), ("A02", "old", "r1", 1), ("A03", "old", "r1", 3),
                                  ("B01", "new", "r2", 1.5), ("B02", "new", "r2", 1.5)):
        dc.cabinets[ident] = Cabinet(ident, site, room, 10, kw)
    for server in (Server("a", "A01", 1, 2, 500), Server("b", "A01", 5, 1, 300), Server("c", "A01", 8, 3, 900),
                   Server("d", "A02", 1, 4, 1200, device="d-dev")):
        dc.servers[server.name] = server
    return dc


def test_free_runs_are_the_stretches_between_servers() -> None:
    dc = centre()
    placed = dc.servers_by_cabinet()
    assert free_runs(dc.cabinets["A01"], placed["A01"]) == [(3, 2), (6, 2)]
    assert free_runs(dc.cabinets["A02"], placed["A02"]) == [(5, 6)]
    assert free_runs(dc.cabinets["A03"], []) == [(1, 10)]


def test_cabinets_report_use_and_the_one_over_budget() -> None:
    rows = {c.cabinet: c for c in cabinet_usage(centre(), site="old")}
    assert list(rows) == ["A01", "A02", "A03"]
    a01 = rows["A01"]
    # 2 + 1 + 3 U used of 10; 500 + 300 + 900 W of 2000 W = 85 %
    assert (a01.used_u, a01.free_u, a01.power_w, a01.budget_w, a01.servers) == (6, 4, 1700, 2000, 3)
    assert a01.power_pct == pytest.approx(85.0)
    assert (a01.over_budget, a01.largest_free_run_u) == (False, 2)
    a02 = rows["A02"]
    assert a02.over_budget and a02.power_pct == pytest.approx(120.0)  # 1200 W of 1000 W: shown, not capped
    assert (rows["A03"].used_u, rows["A03"].servers, rows["A03"].largest_free_run_u) == (0, 0, 10)


def test_sites_sum_their_cabinets_and_utilisation() -> None:
    # d is polled as device "d-dev"; a by its own name
    readings = {"a": Utilisation(10.0, 20.0, None), "d-dev": Utilisation(30.0, None, 50.0)}
    old, new = site_usage(centre(), readings)
    assert (old.site, old.name, old.cabinets, old.height_u, old.used_u, old.free_u) == ("old", "旧云中心", 3, 30, 10,
                                                                                        20)
    assert (old.power_w, old.budget_w, old.servers, old.empty_cabinets, old.over_budget) == (2900, 6000, 4, 1,
                                                                                             ("A02",))
    # means over the servers that have each reading: cpu (10 + 30) / 2, memory only a's, disk only d's
    assert (old.cpu_pct, old.memory_pct, old.disk_pct, old.measured) == (20.0, 20.0, 50.0, 2)
    assert (new.cabinets, new.used_u, new.free_u, new.budget_w, new.servers, new.measured) == (2, 0, 20, 3000, 0, 0)
    a01 = cabinet_usage(centre(), readings, site="old")[0]
    assert (a01.cpu_pct, a01.memory_pct, a01.disk_pct, a01.measured) == (10.0, 20.0, None, 1)


def test_move_fills_cabinets_in_order_within_u_and_power() -> None:
    # 2 U 400 W servers into old: A01 has two 2 U stretches but 300 W left (0 fit); A02 has U 5-10 (3 slots)
    # but is already over budget (0); A03 has 5 slots and 3000 / 400 = 7.5 -> 7 by power, so 5.
    plan = plan_move(centre(), servers=4, server_u=2, server_w=400, to_site="old")
    assert plan.refusal is None
    assert [(p.cabinet, p.positions) for p in plan.placements] == [("A03", (1, 3, 5, 7))]
    assert (plan.needed_u, plan.needed_w, plan.placed) == (8, 1600, 4)
    assert (plan.fits_by_u, plan.fits_by_power, plan.fits) == (2 + 3 + 5, 0 + 0 + 7, 5)
    # free after: A01 4 + A02 6 + A03 10 - 8; headroom: A01 300 + A02 none + A03 3000 - 1600
    assert (plan.free_u_after, plan.headroom_w_after) == (12, 1700)


def test_move_too_big_is_refused_with_what_would_fit() -> None:
    plan = plan_move(centre(), servers=6, server_u=2, server_w=400, to_site="old")
    assert plan.placed == 5
    assert plan.refusal == ("site 'old' can take 5 of the 6 servers (2 U, 400 W each); power budget runs out "
                            "first: 10 fit by U, 7 by power")


def test_move_into_the_new_centre_spreads_over_cabinets() -> None:
    # 1 U 500 W: each 1.5 kW cabinet takes 3 by power though it has 10 U
    plan = plan_move(centre(), servers=5, server_u=1, server_w=500, to_site="new")
    assert [(p.cabinet, p.count) for p in plan.placements] == [("B01", 3), ("B02", 2)]
    assert plan.placements[1].positions == (1, 2)
    assert (plan.fits_by_u, plan.fits_by_power, plan.fits, plan.refusal) == (20, 6, 6, None)
    assert plan.as_json()["placements"][0] == {"cabinet": "B01", "count": 3, "positions": [1, 2, 3]}


def test_move_to_an_unknown_site_or_of_nothing() -> None:
    plan = plan_move(centre(), servers=1, server_u=1, server_w=1, to_site="mars")
    assert plan.refusal == "no site 'mars' in the inventory (sites: old, new)" and plan.placements == ()
    with pytest.raises(ValueError):
        plan_move(centre(), servers=0, server_u=1, server_w=1, to_site="old")


def test_runs_out_month_by_hand() -> None:
    # capacity for 2 U 400 W servers in old is 5 (above); at 2 a month: 2 by end of Dec, 4 by Jan, 6 > 5 in
    # February. U alone (10) would last until 12 > 10 in month 6 (May); power alone (7) until 8 > 7 in month 4.
    found = runs_out(centre(), "old", growth_per_month=2, today=date(2025, 11, 15), server_u=2, server_w=400)
    assert (found.fits, found.months, found.month, found.limit) == (5, 3, "2026-02", "power")
    assert (found.month_u, found.month_power) == ("2026-05", "2026-03")


def test_runs_out_with_the_sites_average_server() -> None:
    # old's servers average (2 + 1 + 3 + 4) / 4 = 2.5 U, rounded up to 3, and (500 + 300 + 900 + 1200) / 4 = 725 W.
    # 3 U slots: A01 none (stretches of 2), A02 two (U 5, 8), A03 three (U 1, 4, 7); by power only A03, with
    # floor(3000 / 725) = 4; so 3 fit. At 1.5 a month: 3 by the end of month 2, 4.5 > 3 in month 3: March 2026.
    found = runs_out(centre(), "old", growth_per_month=1.5, today=date(2025, 12, 1))
    assert (found.server_u, found.server_w) == (3, 725)
    assert (found.fits_by_u, found.fits_by_power, found.fits) == (5, 4, 3)
    assert (found.months, found.month, found.limit) == (3, "2026-03", "power")
    assert runs_out(centre(), "old", growth_per_month=0, today=date(2025, 12, 1)).month is None


def test_report_gives_exhaustion_for_sites_with_servers_only() -> None:
    got = report(centre(), growth_per_month=1, today=date(2025, 1, 1))
    assert [e.site for e in got.exhaustion] == ["old"]
    as_json = json.loads(json.dumps(got.as_json()))
    assert as_json["sites"][0]["over_budget"] == ["A02"]
    assert as_json["cabinets"][1]["power_pct"] == 120.0


def test_utilisation_from_a_recorded_host_resources_poll() -> None:
    recorded = json.loads(HOST_RESOURCES.read_text())
    samples = [Sample(s["measurement"], make_tags(**s["tags"]), s["fields"], 0) for s in recorded]
    # swap must not count as disk
    samples.append(Sample("storage", make_tags(device="dc1-srv-001", storage="Swap space", storage_index="10"),
                          {"size_bytes": 100.0, "used_bytes": 100.0}, 0))
    got = utilisation_from_samples(samples)["dc1-srv-001"]
    # CPUs at 12 % and 30 %: 21 %; RAM 8192000000 of 16384000000 bytes: 50 %; "/" 409600000 of 10240000000: 4 %
    assert (got.cpu_pct, got.memory_pct, got.disk_pct) == pytest.approx((21.0, 50.0, 4.0))
