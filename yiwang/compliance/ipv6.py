"""IPv6 readiness (IPv6改造) per device and per county: five checks, each with its reason.

1. `global`: IPv6 switched on for the device: VRP's `ipv6` line, IOS/RGOS `ipv6 unicast-routing`. Comware 7 has no
   global switch (an interface with an IPv6 address forwards IPv6), so the check is not-applicable there.
2. `uplink-address`: a static global IPv6 address on the interface of the area's uplink (the device's end of it);
   link-local and autoconfigured addresses do not count. Not-applicable on a device that is no uplink's lower end.
3. `icmp`: the management address `address6` answered ICMPv6 echo in the last ICMP cycle.
4. `snmp`: SNMP answered at `address6` in the last SNMP cycle (the collector's `snmp_ipv6` series: a dual-stack
   device gets one GET over IPv6 beside its poll at `address`; an IPv6-only device's whole poll goes to `address6`).
   No result yet is `error` (not measured), never a pass.
5. `plan`: `address6` lies inside the area's prefix in the IPv6 plan; not-applicable until the plan exists.

A device is ready when every check passed or is not-applicable; a village is ready when each of its network devices
is; a county's share is its ready villages over its villages that have a network device.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from ipaddress import IPv6Address, IPv6Network, ip_address

from collectors.model import Sample
from collectors.platforms import cli_of
from collectors.snmp.over_ipv6 import MEASUREMENT as SNMP_IPV6
from inventory.model import Device, Inventory, Level
from yiwang.compliance.model import Status

CHECKS = ("global", "uplink-address", "icmp", "snmp", "plan")


@dataclass(frozen=True, slots=True)
class Ipv6Inputs:
    """What the checks read of one device, gathered from the archive, the inventory and the plan."""

    device: str
    platform: str
    area: str
    config: str | None  # the running configuration as archived; None when it could not be read
    uplink_interface: str | None  # the device's end of its area's uplink; None when it is no uplink's lower end
    address6: str | None  # the inventory's IPv6 management address
    plan_exists: bool = False
    planned_prefix: IPv6Network | None = None  # the area's prefix in the plan; None when the area is not planned


@dataclass(frozen=True, slots=True)
class PollView:
    """The latest poll results of one device that concern IPv6 (None: no result yet)."""

    icmp6_up: bool | None = None
    snmp6_up: bool | None = None
    snmp6_reason: str = ""  # why SNMP did not answer over IPv6: the collector's short code (timeout, auth, ...)


@dataclass(frozen=True, slots=True)
class Ipv6Check:
    check: str
    status: Status
    reason: str


@dataclass(frozen=True, slots=True)
class DeviceReadiness:
    device: str
    area: str
    checks: tuple[Ipv6Check, ...]

    @property
    def ready(self) -> bool:
        return all(c.status in ("pass", "not-applicable") for c in self.checks) and any(
            c.status == "pass" for c in self.checks)

    def as_json(self) -> dict[str, object]:
        return {"device": self.device, "area": self.area, "ready": self.ready,
                "checks": [{"check": c.check, "status": c.status, "reason": c.reason} for c in self.checks]}


@dataclass(frozen=True, slots=True)
class CountyReadiness:
    county: str
    villages: int  # villages with at least one network device
    ready: int

    @property
    def share(self) -> float | None:
        return self.ready / self.villages if self.villages else None


# --- the five checks: pure ----------------------------------------------------------------------------------------

def blocks(config: str) -> list[tuple[str, list[str]]]:
    """(top-level line, its indented lines); VRP's `#` and IOS's `!` separators dropped."""
    found: list[tuple[str, list[str]]] = []
    for raw in config.splitlines():
        line = raw.rstrip()
        if not line.strip() or line.strip() in ("#", "!"):
            continue
        if line[0].isspace():
            if found:
                found[-1][1].append(line.strip())
            continue
        found.append((line, []))
    return found


def check_global(platform: str, config: str | None) -> Ipv6Check:
    if platform == "hp_comware":
        return Ipv6Check("global", "not-applicable", "Comware 7 has no global IPv6 switch: an interface with an "
                                                     "IPv6 address forwards IPv6")
    if config is None:
        return Ipv6Check("global", "error", "the configuration could not be read")
    wanted = "ipv6" if cli_of(platform).family == "vrp" else "ipv6 unicast-routing"
    if any(head.strip() == wanted for head, _ in blocks(config)):
        return Ipv6Check("global", "pass", f"`{wanted}` is configured")
    return Ipv6Check("global", "fail", f"no `{wanted}` line in the configuration")


_ADDRESS = re.compile(r"^ipv6 address ([0-9A-Fa-f:.]+)(?:/(\d+)|\s+(\d+))(?:\s+(\S+))?\s*$")


def static_addresses(body: Iterable[str]) -> list[str]:
    """The static global addresses of an interface body: `ipv6 address X/len` or VRP's `ipv6 address X len`;
    link-local (`… link-local`, fe80::/10) and `eui-64`/`auto`/`dhcp`/`autoconfig` forms are not static global."""
    found = []
    for line in body:
        match = _ADDRESS.match(line)
        if match is None or match.group(4) is not None:
            continue
        try:
            address = ip_address(match.group(1))
        except ValueError:
            continue
        if isinstance(address, IPv6Address) and not address.is_link_local:
            found.append(f"{address}/{match.group(2) or match.group(3)}")
    return found


def _same_interface(a: str, b: str) -> bool:
    return re.sub(r"\s+", "", a).lower() == re.sub(r"\s+", "", b).lower()


def check_uplink_address(config: str | None, uplink_interface: str | None) -> Ipv6Check:
    if uplink_interface is None:
        return Ipv6Check("uplink-address", "not-applicable", "the device is not the lower end of an uplink")
    if config is None:
        return Ipv6Check("uplink-address", "error", "the configuration could not be read")
    for head, body in blocks(config):
        if head.startswith("interface ") and _same_interface(head[len("interface "):], uplink_interface):
            found = static_addresses(body)
            if found:
                return Ipv6Check("uplink-address", "pass", f"{uplink_interface}: {', '.join(found)}")
            return Ipv6Check("uplink-address", "fail", f"{uplink_interface} has no static global IPv6 address")
    return Ipv6Check("uplink-address", "fail", f"no `interface {uplink_interface}` block in the configuration")


def check_icmp(address6: str | None, poll: PollView) -> Ipv6Check:
    if address6 is None:
        return Ipv6Check("icmp", "fail", "no IPv6 management address (address6) in the inventory")
    if poll.icmp6_up is None:
        return Ipv6Check("icmp", "error", f"no ICMPv6 result for {address6} yet")
    if poll.icmp6_up:
        return Ipv6Check("icmp", "pass", f"{address6} answered ICMPv6 echo")
    return Ipv6Check("icmp", "fail", f"{address6} did not answer ICMPv6 echo")


def check_snmp(address6: str | None, poll: PollView) -> Ipv6Check:
    if address6 is None:
        return Ipv6Check("snmp", "fail", "no IPv6 management address (address6) in the inventory")
    if poll.snmp6_up is None:
        return Ipv6Check("snmp", "error", f"no SNMP-over-IPv6 result for {address6} yet")
    if poll.snmp6_up:
        return Ipv6Check("snmp", "pass", f"SNMP answered at {address6}")
    return Ipv6Check("snmp", "fail", f"SNMP did not answer at {address6} ({poll.snmp6_reason or 'no reason given'})")


def check_plan(address6: str | None, plan_exists: bool, planned_prefix: IPv6Network | None,
               area: str) -> Ipv6Check:
    if not plan_exists:
        return Ipv6Check("plan", "not-applicable", "no IPv6 plan yet")
    if planned_prefix is None:
        return Ipv6Check("plan", "not-applicable", f"area {area} is not in the IPv6 plan")
    if address6 is None:
        return Ipv6Check("plan", "fail", f"no address6; the area's planned prefix is {planned_prefix}")
    if IPv6Address(address6) in planned_prefix:
        return Ipv6Check("plan", "pass", f"{address6} is inside {planned_prefix}")
    return Ipv6Check("plan", "fail", f"{address6} is outside the area's planned prefix {planned_prefix}")


def device_readiness(inputs: Ipv6Inputs, poll: PollView) -> DeviceReadiness:
    return DeviceReadiness(inputs.device, inputs.area, (
        check_global(inputs.platform, inputs.config),
        check_uplink_address(inputs.config, inputs.uplink_interface),
        check_icmp(inputs.address6, poll),
        check_snmp(inputs.address6, poll),
        check_plan(inputs.address6, inputs.plan_exists, inputs.planned_prefix, inputs.area),
    ))


def county_readiness(inventory: Inventory, devices: Iterable[DeviceReadiness]) -> list[CountyReadiness]:
    """Per county: how many of its villages (those with a network device) have every device ready."""
    ready_by_village: dict[str, bool] = {}
    for found in devices:
        area = inventory.areas.get(found.area)
        if area is not None and area.level == Level.VILLAGE:
            ready_by_village[area.id] = ready_by_village.get(area.id, True) and found.ready
    out = []
    for county in sorted((a for a in inventory.areas.values() if a.level == Level.COUNTY), key=lambda a: a.id):
        inside = inventory.subtree(county.id)
        villages = [v for v in ready_by_village if v in inside]
        out.append(CountyReadiness(county.id, len(villages), sum(ready_by_village[v] for v in villages)))
    return out


# --- gathering the inputs ------------------------------------------------------------------------------------------

def poll_view(samples: Iterable[Sample]) -> PollView:
    """From the device's latest samples (`LatestStore.device_samples`): the `icmp` series of family ipv6 and the
    SNMP collector's `snmp_ipv6` series."""
    icmp6: bool | None = None
    snmp6: bool | None = None
    reason = ""
    for sample in samples:
        if sample.measurement == "icmp" and sample.tag("family") == "ipv6":
            icmp6 = bool(sample.fields.get("up"))
        elif sample.measurement == SNMP_IPV6:
            snmp6 = bool(sample.fields.get("up"))
            reason = "" if snmp6 else sample.tag("reason")
    return PollView(icmp6, snmp6, reason)


def uplink_interfaces(inventory: Inventory) -> dict[str, str]:
    """{device: its interface on its area's uplink}, for the devices that are an uplink's lower end."""
    return {link.local.device: link.local.interface for link in inventory.links}


def inputs_of(inventory: Inventory, device: Device, config: str | None,
              uplinks: Mapping[str, str] | None = None) -> Ipv6Inputs:
    interfaces = uplink_interfaces(inventory) if uplinks is None else uplinks
    plan = inventory.ipv6_plan
    planned = plan.areas.get(device.area) if plan is not None else None
    return Ipv6Inputs(device.name, device.platform, device.area, config, interfaces.get(device.name),
                      device.address6, plan is not None, planned.prefix if planned else None)


def assess(inventory: Inventory, configs: Mapping[str, str | None],
           samples: Mapping[str, Iterable[Sample]]) -> tuple[list[DeviceReadiness], list[CountyReadiness]]:
    """Every network device (one with a CLI yiwang reads) and the county roll-up. `configs` maps a device to its
    archived configuration (None or absent: unreadable); `samples` to its latest samples."""
    devices = []
    uplinks = uplink_interfaces(inventory)
    for device in sorted(inventory.devices.values(), key=lambda d: d.name):
        try:
            cli_of(device.platform)
        except KeyError:
            continue
        found = device_readiness(inputs_of(inventory, device, configs.get(device.name), uplinks),
                                 poll_view(samples.get(device.name, ())))
        devices.append(found)
    return devices, county_readiness(inventory, devices)
