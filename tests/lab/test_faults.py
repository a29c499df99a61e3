from __future__ import annotations

import pytest

from lab.city import CityPlan
from lab.faults import ERRORS_PER_SECOND, SATURATION, Fault, effective, resolve_target
from lab.state import LabError


def fault(kind: str, device: str, interface: str | None, fault_id: str = "f1") -> Fault:
    return Fault(fault_id, kind, device, interface, 0.0, (device,), "snmprec")


def test_link_down_stops_counters_and_sets_oper_down(small: CityPlan) -> None:
    device = small.device("hg-huangzhou-t01-sw01")
    name = device.interfaces[1].name
    after = effective(device, [fault("link-down", device.name, name)])
    iface = after.interface(name)
    assert not iface.oper_up and iface.admin_up
    assert set(iface.rates.values()) == {0.0}
    assert after.interfaces[0] == device.interfaces[0]


def test_saturate_runs_at_98_percent_of_speed(small: CityPlan) -> None:
    device = small.device("hg-huangzhou-t01-sw01")
    iface = device.interfaces[0]
    after = effective(device, [fault("saturate", device.name, iface.name)]).interface(iface.name)
    line = iface.speed_mbps * 1e6 / 8
    assert after.rates["in_octets"] == pytest.approx(SATURATION * line)
    assert after.rates["out_octets"] == pytest.approx(SATURATION * line)
    assert after.rates["in_ucast"] > iface.rates["in_ucast"]


def test_errors_and_saturate_stack_but_link_down_wins(small: CityPlan) -> None:
    device = small.device("hg-huangzhou-t01-sw01")
    name = device.interfaces[0].name
    both = effective(device, [fault("errors", device.name, name), fault("saturate", device.name, name, "f2")])
    assert both.interface(name).rates["in_errors"] >= ERRORS_PER_SECOND
    down = effective(device, [fault("errors", device.name, name), fault("link-down", device.name, name, "f2")])
    assert down.interface(name).rates["in_errors"] == 0.0


def test_faults_on_other_devices_change_nothing(small: CityPlan) -> None:
    device = small.device("hg-huangzhou-t01-sw01")
    assert effective(device, [fault("link-down", "someone-else", device.interfaces[0].name)]) is device


def test_resolve_targets(small: CityPlan) -> None:
    assert [d.name for d in resolve_target(small, "unreachable", "hg-core-01", None)] == ["hg-core-01"]
    township = resolve_target(small, "unreachable", "hb.hg.huangzhou.t02", None)
    assert township[0].name == "hg-huangzhou-t02-sw01" and len(township) > 8
    assert len(resolve_target(small, "unreachable", "hb", None)) == len(small.devices)


@pytest.mark.parametrize(("kind", "target", "interface", "message"), [
    ("flood", "hg-core-01", None, "unknown fault kind"),
    ("unreachable", "nowhere", None, "neither a device nor an area"),
    ("unreachable", "hg-core-01", "XGigabitEthernet0/0/1", "not an interface"),
    ("link-down", "hb.hg", "x", "needs a device"),
    ("link-down", "hg-core-01", None, "needs an interface"),
    ("errors", "hg-core-01", "Gi0/0/1", "has no interface 'Gi0/0/1'"),
])
def test_bad_targets_say_why(small: CityPlan, kind: str, target: str, interface: str | None, message: str) -> None:
    with pytest.raises(LabError, match=message):
        resolve_target(small, kind, target, interface)
