""""The parent sees the neighbour" against the small lab's SSH devices, over real SSH: a village and its township
both numbered on their link (typed as an engineer types them) are neighbours; a village whose township end has no
IPv6 on the link is not, and the problem says where it looked; a township that cannot be reached is a problem of
each of its villages. Every line typed is taken back afterwards (the lab is shared by the session's tests)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from collectors.platforms import cli_of
from collectors.ssh.collector import endpoint_of
from collectors.ssh.session import Endpoint, SessionSettings, fetch, session
from inventory.addressing import PlannedLink
from inventory.loader import load_inventory
from inventory.model import Inventory
from lab import lab_inventory_dir
from tests.e2e.conftest import free_tcp_port, lab_state  # noqa: F401 - the small lab, started once for the session
from yiwang.archive.normalize import normalize
from yiwang.change.ipv6plan import plan_ipv6
from yiwang.change.neighbours import parent_sees
from yiwang.config import Settings
from yiwang.push.device import Device
from yiwang.push.plan import typed, way_back
from yiwang.targets import build_targets

pytestmark = pytest.mark.integration


def address_lines(platform: str, port: str, address: str) -> list[str]:
    """IPv6 on one port, as the change's templates configure it (VRP needs IPv6 on globally and on the port)."""
    if platform == "huawei_vrp":
        return ["ipv6", f"interface {port}", "  ipv6 enable", f"  ipv6 address {address}"]
    return [f"interface {port}", f"  ipv6 address {address}"]


class Lab:
    def __init__(self, settings: Settings, inventory: Inventory) -> None:
        self.ssh = SessionSettings(settings.state_dir / "ssh", read_timeout=20)
        targets = build_targets(inventory, secrets_base=settings.state_dir)
        self.endpoints = {t.device: endpoint_of(t) for t in targets.ssh}
        self.before: dict[str, str] = {}

    def running(self, name: str) -> str:
        endpoint = self.endpoints[name]
        (text,) = fetch(endpoint, [cli_of(endpoint.platform).config_command], self.ssh)
        return normalize(endpoint.platform, text)

    def configure(self, name: str, lines: list[str]) -> None:
        self.before.setdefault(name, self.running(name))
        self._type(self.endpoints[name], lines)

    def put_back(self) -> None:
        for name, before in self.before.items():
            endpoint = self.endpoints[name]
            self._type(endpoint, list(way_back(endpoint.platform, self.running(name), before)))
            assert self.running(name) == before, f"{name} was not put back"

    def _type(self, endpoint: Endpoint, lines: list[str]) -> None:
        with session(endpoint, self.ssh) as conn:
            done = Device(conn, endpoint.platform, 20).type_lines(typed(endpoint.platform, lines))
        assert done.rejected is None and not done.dropped, done


@pytest.fixture()
def planned(lab_state: Path, tmp_path: Path) -> Iterator[tuple[Settings, Inventory, Lab]]:  # noqa: F811
    settings = Settings.model_validate({"state_dir": str(tmp_path), "inventory": [str(lab_inventory_dir(lab_state))],
                                        "ssh": {"workers": 4, "read_timeout_s": 20}})
    loaded = load_inventory(settings.inventory).inventory
    inventory = dataclasses.replace(loaded, ipv6_plan=plan_ipv6(loaded, "2001:db8:100::/40").plan)
    lab = Lab(settings, inventory)
    try:
        yield settings, inventory, lab
    finally:
        lab.put_back()


def village_links(inventory: Inventory, lab: Lab) -> dict[str, list[PlannedLink]]:
    """Township -> its planned village links, both ends reachable over SSH."""
    assert inventory.ipv6_plan is not None
    found: dict[str, list[PlannedLink]] = {}
    for link in inventory.ipv6_plan.links():
        lower, upper = link.lower.device, link.upper.device
        if inventory.devices[lower].role == "village-access" and lower in lab.endpoints and upper in lab.endpoints:
            found.setdefault(upper, []).append(link)
    return found


def test_parent_sees_its_villages(planned: tuple[Settings, Inventory, Lab]) -> None:
    settings, inventory, lab = planned
    by_township = village_links(inventory, lab)
    township, links = next((t, ls) for t, ls in sorted(by_township.items()) if len(ls) >= 2)
    seen, unseen = links[0], links[1]
    other_township, (far, *_) = next((t, ls) for t, ls in sorted(by_township.items()) if t != township)
    township_platform = inventory.devices[township].platform

    lab.configure(township, address_lines(township_platform, seen.upper.interface, str(seen.upper_address)))
    for link in (seen, unseen):
        village = link.lower.device
        lab.configure(village, address_lines(inventory.devices[village].platform, link.lower.interface,
                                             str(link.lower_address)))

    # `far`'s township answers on no port: its inventory entry points at a closed one
    closed = dataclasses.replace(inventory.devices[other_township], ssh_port=free_tcp_port())
    inventory.devices[other_township] = closed
    villages = [seen.lower.device, unseen.lower.device, far.lower.device, township]
    found = asyncio.run(parent_sees(villages, settings=settings, inventory=inventory))
    print(found)

    assert list(found) == villages
    assert found[seen.lower.device] == "", found
    assert found[unseen.lower.device].startswith(
        f"{township} has no IPv6 neighbour entry for {unseen.lower.device} on {unseen.upper.interface} (looked for "
        f"{unseen.lower_address.ip} or a link-local address)"), found
    assert found[far.lower.device].startswith(
        f"the neighbour table of its parent {other_township} could not be read: unreachable: "), found
    county_end = next(link.upper for link in inventory.ipv6_plan.links()  # type: ignore[union-attr]
                      if link.lower.device == township)
    assert found[township].startswith(f"{county_end.device} has no IPv6 neighbour entry for {township} on "
                                      f"{county_end.interface} "), found  # its county end has no IPv6 yet
