"""The simulated city's cloud centres: what issue 13 asks the lab to hold, and the small lab a slice of it."""

from __future__ import annotations

from lab.city import CityPlan, generate_city
from lab.datacentre import NEW, OLD, OVER_BUDGET, STORAGE
from yiwang.capacity.datacentre import cabinet_usage, site_usage


def test_old_centre_full_of_servers_new_centre_empty(city: CityPlan) -> None:
    old, new = site_usage(city.datacentre)
    assert (old.site, old.cabinets, new.site, new.cabinets) == (OLD, 200, NEW, 500)
    assert 2800 <= old.servers <= 3200  # "~3,000": drawn, not fixed
    assert len({c.room for c in city.datacentre.cabinets_of(OLD)}) == 4
    assert (new.servers, new.used_u, new.empty_cabinets) == (0, 0, 500)
    assert old.over_budget == (OVER_BUDGET,)  # exactly one, on purpose
    rows = cabinet_usage(city.datacentre, site=OLD)
    assert sum(1 for c in rows if c.free_u <= 4 or c.power_pct >= 90) >= 5  # some nearly full
    assert all(c.servers for c in rows)


def test_same_seed_same_centre(city: CityPlan) -> None:
    again = generate_city(city.seed, "city").datacentre
    assert again == city.datacentre
    other = generate_city(city.seed + 1, "city").datacentre
    assert [s.power_w for s in other.servers.values()] != [s.power_w for s in city.datacentre.servers.values()]


def test_small_is_the_first_cabinets_of_each_centre(city: CityPlan, small: CityPlan) -> None:
    dc = small.datacentre
    assert [c.id for c in dc.cabinets.values()] == ([c.id for c in city.datacentre.cabinets_of(OLD)][:10]
                                                   + [c.id for c in city.datacentre.cabinets_of(NEW)][:25])
    assert {s.name for s in dc.servers.values()} == {s.name for s in city.datacentre.servers.values()
                                                     if s.cabinet in dc.cabinets}
    devices = {d.name for d in small.devices}
    assert {s.device for s in dc.servers.values() if s.device} <= devices
    assert site_usage(dc)[0].over_budget == (OVER_BUDGET,)
    storage = next(c for c in cabinet_usage(dc) if c.cabinet == STORAGE)
    assert storage.free_u == 2  # ten 4 U storage servers in 42 U
