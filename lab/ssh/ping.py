"""`ping ipv6 X` answered by both ends' configurations, in each platform's words. Pure.

A reply comes back only when this device has an address on an up interface in the target's subnet (or a static
route to it through such a subnet), the device owning the target has that address on an up interface, and that
device can send back the same way. VRP also needs `ipv6` in the system view and `ipv6 enable` on the interface.

Output layouts:
- VRP: `PING X : 56  data bytes, press CTRL_C to break` / `Reply from X` / `bytes=56 Sequence=1 hop limit=64
  time = 1 ms` (VRP5; VRP8 writes `time=1 ms`), `Request time out`, `--- X ping statistics ---`, `100.00% packet
  loss` (Huawei NetEngine/AR IPv6 configuration examples and published VRP lab transcripts).
- Comware 7: `Ping6(56 data bytes) S --> X, press CTRL_C to break`, `56 bytes from X, icmp_seq=0 hlim=64
  time=1.000 ms`, `--- Ping6 statistics for X ---`, `5 packet(s) transmitted, 5 packet(s) received, 0.0% packet
  loss` (H3C Comware 7 system maintenance command reference, ping ipv6).
- IOS: `Type escape sequence to abort.`, `Sending 5, 100-byte ICMP Echos to X, timeout is 2 seconds:`, `!!!!!` or
  `.....`, `Success rate is 100 percent (5/5), round-trip min/avg/max = 1/1/1 ms` (Cisco lab transcripts).
- RGOS: `Sending 5, 100-byte ICMP Echoes to X, timeout is 2 seconds:`, `  < press Ctrl+C to break >`, and the
  success line ending in a full stop (published RSR transcripts).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Protocol

from lab.city import DevicePlan
from lab.ssh.config import Config, body_of, v6_addresses

COUNT = 5


class Network(Protocol):
    def owner(self, address: ipaddress.IPv6Address) -> tuple[DevicePlan, Config] | None: ...

    def on_link(self, network: ipaddress.IPv6Network) -> list[tuple[DevicePlan, Config]]: ...


@dataclass(frozen=True, slots=True)
class LinkPeer:
    """A neighbour this device has learned: the far end of one of its up IPv6 ports."""

    port: str  # this device's interface
    address: ipaddress.IPv6Address  # the far end's global address on the link
    link_local: ipaddress.IPv6Address  # the far end's link-local address (from its port's MAC)
    mac: str  # the far end's port MAC, `aa:bb:cc:dd:ee:ff`


def _up(plan: DevicePlan, config: Config, name: str) -> bool:
    body = body_of(config, f"interface {name}")
    if "shutdown" in body:
        return False
    if plan.platform == "huawei_vrp" and ("ipv6 enable" not in body or not any(h == "ipv6" for h, _ in config)):
        return False
    port = next((i for i in plan.interfaces if i.name == name), None)
    return port.oper_up if port is not None else True  # a logical interface is up once it exists


def active(plan: DevicePlan, config: Config) -> list[ipaddress.IPv6Interface]:
    """The global IPv6 addresses that answer: on up interfaces."""
    return [address for name, address in v6_addresses(config) if _up(plan, config, name)]


def _routes(platform: str, config: Config) -> list[tuple[ipaddress.IPv6Network, ipaddress.IPv6Address]]:
    found = []
    for head, _ in config:
        words = head.split()
        try:
            if words[:2] == ["ipv6", "route-static"] and len(words) == 5:
                found.append((ipaddress.IPv6Network(f"{words[2]}/{words[3]}", strict=False),
                              ipaddress.IPv6Address(words[4])))
            elif words[:2] == ["ipv6", "route"] and len(words) == 4:
                found.append((ipaddress.IPv6Network(words[2], strict=False), ipaddress.IPv6Address(words[3])))
        except ValueError:
            continue
    return found


def source_for(plan: DevicePlan, config: Config, target: ipaddress.IPv6Address) -> ipaddress.IPv6Interface | None:
    """The address this device sends from towards `target`: its own, one in the target's subnet, or one in the
    subnet of a static route's next hop; None when it has no way there."""
    mine = active(plan, config)
    for address in mine:
        if address.ip == target or target in address.network:
            return address
    for prefix, hop in sorted(_routes(plan.platform, config), key=lambda r: -r[0].prefixlen):
        if target in prefix:
            return next((a for a in mine if hop in a.network), None)
    return None


def reachable(plan: DevicePlan, config: Config, target: ipaddress.IPv6Address, network: Network) -> bool:
    source = source_for(plan, config, target)
    if source is None:
        return False
    if source.ip == target:
        return True
    found = network.owner(target)
    if found is None:
        return False
    peer, peer_config = found
    if not any(a.ip == target for a in active(peer, peer_config)):
        return False
    return source_for(peer, peer_config, source.ip) is not None


def output(plan: DevicePlan, config: Config, typed: str, target: ipaddress.IPv6Address, ok: bool) -> str:
    platform = plan.platform
    if platform == "huawei_vrp":
        return _vrp(typed, ok, "Version 8." in plan.sys_descr)
    if platform == "hp_comware":
        source = source_for(plan, config, target)
        return _comware(typed, str(source.ip).upper() if source else "::", ok)
    shown = str(target).upper()
    if platform == "ruijie_os":
        marks = "!" * COUNT if ok else "." * COUNT
        rate = "Success rate is 100 percent (5/5), round-trip min/avg/max = 1/1/1 ms." if ok else \
            "Success rate is 0 percent (0/5)."
        return (f"Sending 5, 100-byte ICMP Echoes to {shown}, timeout is 2 seconds:\n  < press Ctrl+C to break >\n"
                f"{marks}\n{rate}\n")
    rate = "Success rate is 100 percent (5/5), round-trip min/avg/max = 1/1/1 ms" if ok else \
        "Success rate is 0 percent (0/5)"
    return (f"Type escape sequence to abort.\nSending 5, 100-byte ICMP Echos to {shown}, timeout is 2 seconds:\n"
            f"{'!' * COUNT if ok else '.' * COUNT}\n{rate}\n")


def _vrp(typed: str, ok: bool, vrp8: bool) -> str:
    time = "time=1 ms" if vrp8 else " time = 1 ms"
    lines = [f"  PING {typed} : 56  data bytes, press CTRL_C to break"]
    for n in range(1, COUNT + 1):
        lines += [f"    Reply from {typed}", f"    bytes=56 Sequence={n} hop limit=64 {time}"] if ok else \
            ["    Request time out"]
    lines += ["", f"  --- {typed} ping statistics ---", f"    {COUNT} packet(s) transmitted",
              f"    {COUNT if ok else 0} packet(s) received", f"    {0 if ok else 100:.2f}% packet loss"]
    if ok:
        lines.append("    round-trip min/avg/max = 1/1/1 ms")
    elif vrp8:
        lines.append("    round-trip min/avg/max=0/0/0 ms")
    return "\n".join(lines) + "\n\n"


def _comware(typed: str, source: str, ok: bool) -> str:
    lines = [f"Ping6(56 data bytes) {source} --> {typed}, press CTRL_C to break"]
    lines += [f"56 bytes from {typed}, icmp_seq={n} hlim=64 time=1.000 ms" if ok else "Request time out"
              for n in range(COUNT)]
    lines += ["", f"--- Ping6 statistics for {typed} ---",
              f"{COUNT} packet(s) transmitted, {COUNT if ok else 0} packet(s) received, "
              f"{0 if ok else 100:.1f}% packet loss"]
    if ok:
        lines.append("round-trip min/avg/max/std-dev = 1.000/1.000/1.000/0.000 ms")
    return "\n".join(lines) + "\n"


def link_peers(plan: DevicePlan, config: Config, network: Network) -> list[LinkPeer]:
    """Whom this device has as IPv6 neighbours: on each of its up ports with a global address, every other device
    with an up address in that subnet. A real device learns a neighbour only when both ends speak IPv6 on the
    link, and both ends' configurations are what the lab knows (it does not model cabling, so ends with only
    `ipv6 enable` and no global address are not paired)."""
    mine = [(name, address) for name, address in v6_addresses(config) if _up(plan, config, name)]
    found = []
    for port, address in mine:
        for peer, peer_config in network.on_link(address.network):
            if peer.name == plan.name:
                continue
            for peer_port, peer_address in v6_addresses(peer_config):
                if peer_address.network != address.network or not _up(peer, peer_config, peer_port):
                    continue
                mac = next((i.mac for i in peer.interfaces if i.name == peer_port), "")
                found.append(LinkPeer(port, peer_address.ip, link_local_of(mac or "02:00:00:00:00:01"), mac))
    return found


def link_local_of(mac: str) -> ipaddress.IPv6Address:
    """The EUI-64 link-local address of a port with this MAC (`aa:bb:cc:dd:ee:ff`)."""
    octets = [int(x, 16) for x in mac.split(":")]
    octets[0] ^= 0x02
    return ipaddress.IPv6Address(bytes([0xFE, 0x80] + [0] * 6 + octets[:3] + [0xFF, 0xFE] + octets[3:]))
