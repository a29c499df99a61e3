"""What a device remembers between sessions, and what the devices of one lab process know of each other."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime

from lab.city import DevicePlan
from lab.ssh.config import Config, v6_addresses


@dataclass(frozen=True, slots=True)
class DeviceMemory:
    running: Config
    startup: Config
    updated_at: datetime
    started_at: datetime


class Registry:
    """Every device of the lab process by the IPv6 addresses in its running configuration, so that a `ping ipv6`
    can be answered by the configuration of the device at the other end. Updated whenever a running config changes."""

    def __init__(self) -> None:
        self._devices: dict[str, tuple[DevicePlan, Config]] = {}
        self._by_address: dict[ipaddress.IPv6Address, str] = {}
        self._by_network: dict[ipaddress.IPv6Network, set[str]] = {}

    def update(self, plan: DevicePlan, config: Config) -> None:
        old = self._devices.get(plan.name)
        if old is not None:
            for _, address in v6_addresses(old[1]):
                if self._by_address.get(address.ip) == plan.name:
                    del self._by_address[address.ip]
                self._by_network.get(address.network, set()).discard(plan.name)
        self._devices[plan.name] = (plan, config)
        for _, address in v6_addresses(config):
            self._by_address.setdefault(address.ip, plan.name)
            self._by_network.setdefault(address.network, set()).add(plan.name)

    def owner(self, address: ipaddress.IPv6Address) -> tuple[DevicePlan, Config] | None:
        name = self._by_address.get(address)
        return None if name is None else self._devices[name]

    def on_link(self, network: ipaddress.IPv6Network) -> list[tuple[DevicePlan, Config]]:
        """The devices with an address in `network` (the other ends of a link numbered from it)."""
        return [self._devices[name] for name in sorted(self._by_network.get(network, ()))]


class NoNetwork:
    """A device alone: nobody else answers."""

    def owner(self, address: ipaddress.IPv6Address) -> tuple[DevicePlan, Config] | None:
        return None

    def on_link(self, network: ipaddress.IPv6Network) -> list[tuple[DevicePlan, Config]]:
        return []
