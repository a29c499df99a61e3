"""The per-platform grammar of configuration lines, without a network: what is taken, how it is stored, what is
refused and where the caret goes."""

from __future__ import annotations

import ipaddress

import pytest

from lab.city import CityPlan
from lab.ssh.cli import handle, login, prompt
from lab.ssh.config import Config, configure, initial_config, render
from lab.ssh.grammar import (
    ACL6,
    AREA,
    INTERFACE,
    IPV6_ACL,
    OSPFV3,
    ROUTER,
    SYSTEM,
    VTY,
    Accepted,
    Rejected,
    error_text,
    parse,
)
from lab.ssh.ping import reachable
from lab.ssh.secure import security_sections
from lab.ssh.state import Registry
from tests.lab_ssh.conftest import NOW, first_device, fresh_memory

PORTS = {"huawei_vrp": ("GigabitEthernet0/0/1",), "hp_comware": ("GigabitEthernet1/0/1",),
         "cisco_ios": ("GigabitEthernet0/1",), "ruijie_os": ("GigabitEthernet 0/1",)}

ACCEPTED = [
    # (platform, view, typed, stored)
    ("huawei_vrp", SYSTEM, "ipv6", "ipv6"),
    ("huawei_vrp", SYSTEM, "ospfv3 1", "ospfv3 1"),
    ("huawei_vrp", SYSTEM, "ipv6 route-static 2001:db8:: 32 2001:db8:0:1::1",
     "ipv6 route-static 2001:DB8:: 32 2001:DB8:0:1::1"),
    ("huawei_vrp", SYSTEM, "acl ipv6 2001", "acl ipv6 number 2001"),
    ("huawei_vrp", SYSTEM, "snmp-agent acl-ipv6 2001", "snmp-agent acl-ipv6 2001"),
    ("huawei_vrp", SYSTEM, "user-interface vty 0 4", "user-interface vty 0 4"),
    ("huawei_vrp", SYSTEM, "interface gigabitethernet 0/0/1", "interface GigabitEthernet0/0/1"),
    ("huawei_vrp", SYSTEM, "interface LoopBack0", "interface LoopBack0"),
    ("huawei_vrp", INTERFACE, "ipv6 enable", "ipv6 enable"),
    ("huawei_vrp", INTERFACE, "ipv6 address 2001:db8:0:1::1/64", "ipv6 address 2001:DB8:0:1::1/64"),
    ("huawei_vrp", INTERFACE, "ipv6 address 2001:db8:0:1::1 64", "ipv6 address 2001:DB8:0:1::1/64"),
    ("huawei_vrp", INTERFACE, "ipv6 address auto link-local", "ipv6 address auto link-local"),
    ("huawei_vrp", INTERFACE, "ospfv3 1 area 0", "ospfv3 1 area 0.0.0.0"),
    ("huawei_vrp", INTERFACE, "qos lr outbound cir 100000", "qos lr outbound cir 100000"),
    ("huawei_vrp", INTERFACE, "qos lr outbound cir 100000 cbs 18800000", "qos lr outbound cir 100000 cbs 18800000"),
    ("huawei_vrp", OSPFV3, "router-id 10.0.0.1", "router-id 10.0.0.1"),
    ("huawei_vrp", OSPFV3, "area 0.0.0.0", "area 0.0.0.0"),
    ("huawei_vrp", ACL6, "rule permit source 2001:db8::/32", "rule permit source 2001:DB8::/32"),
    ("huawei_vrp", VTY, "acl ipv6 2001 inbound", "acl ipv6 2001 inbound"),
    ("hp_comware", SYSTEM, "ospfv3 1", "ospfv3 1"),
    ("hp_comware", SYSTEM, "ipv6 route-static :: 0 2001:db8::1", "ipv6 route-static :: 0 2001:DB8::1"),
    ("hp_comware", SYSTEM, "acl ipv6 basic 2001", "acl ipv6 basic 2001"),
    ("hp_comware", SYSTEM, "snmp-agent community read ro6 acl ipv6 2001",
     "snmp-agent community read ro6 acl ipv6 2001"),
    ("hp_comware", INTERFACE, "ipv6 address 2001:db8::2/64", "ipv6 address 2001:DB8::2/64"),
    ("hp_comware", INTERFACE, "ospfv3 1 area 0.0.0.0", "ospfv3 1 area 0.0.0.0"),
    ("hp_comware", INTERFACE, "qos lr outbound cir 50000", "qos lr outbound cir 50000"),
    ("hp_comware", OSPFV3, "router-id 10.0.0.2", "router-id 10.0.0.2"),
    ("cisco_ios", SYSTEM, "ipv6 unicast-routing", "ipv6 unicast-routing"),
    ("cisco_ios", SYSTEM, "ipv6 router ospf 1", "ipv6 router ospf 1"),
    ("cisco_ios", SYSTEM, "ipv6 route ::/0 2001:db8::1", "ipv6 route ::/0 2001:DB8::1"),
    ("cisco_ios", SYSTEM, "ipv6 access-list MGMT6", "ipv6 access-list MGMT6"),
    ("cisco_ios", SYSTEM, "snmp-server community ro6 RO ipv6 MGMT6", "snmp-server community ro6 RO ipv6 MGMT6"),
    ("cisco_ios", INTERFACE, "ipv6 address 2001:db8::3/64", "ipv6 address 2001:DB8::3/64"),
    ("cisco_ios", INTERFACE, "ipv6 enable", "ipv6 enable"),
    ("cisco_ios", INTERFACE, "ipv6 ospf 1 area 0", "ipv6 ospf 1 area 0"),
    ("cisco_ios", INTERFACE, "bandwidth 100000", "bandwidth 100000"),
    ("cisco_ios", INTERFACE, "rate-limit output 100000000 18750000 37500000 conform-action transmit exceed-action drop",
     "rate-limit output 100000000 18750000 37500000 conform-action transmit exceed-action drop"),
    ("cisco_ios", ROUTER, "router-id 10.0.0.3", "router-id 10.0.0.3"),
    ("cisco_ios", IPV6_ACL, "permit ipv6 2001:db8::/32 any", "permit ipv6 2001:DB8::/32 any"),
    ("cisco_ios", VTY, "ipv6 access-class MGMT6 in", "ipv6 access-class MGMT6 in"),
    ("ruijie_os", SYSTEM, "ipv6 router ospf 1", "ipv6 router ospf 1"),
    ("ruijie_os", SYSTEM, "interface GigabitEthernet 0/1", "interface GigabitEthernet 0/1"),
    ("ruijie_os", INTERFACE, "ipv6 address 2001:db8::4/64", "ipv6 address 2001:DB8::4/64"),
    ("ruijie_os", INTERFACE, "ipv6 ospf 1 area 0", "ipv6 ospf 1 area 0"),
    ("ruijie_os", INTERFACE, "rate-limit output 8000000 1500000 3000000 conform-action transmit exceed-action drop",
     "rate-limit output 8000000 1500000 3000000 conform-action transmit exceed-action drop"),
]


@pytest.mark.parametrize(("platform", "view", "typed", "stored"), ACCEPTED)
def test_accepted_lines_are_stored_as_the_device_shows_them(platform: str, view: str, typed: str,
                                                            stored: str) -> None:
    got = parse(platform, view, typed, PORTS[platform])
    assert isinstance(got, Accepted) and got.line == stored and not got.negated


REJECTED = [
    # (platform, view, typed, caret column, kind)
    ("huawei_vrp", SYSTEM, "ipv6 routing-static 2001:db8:: 32 2001:db8::1", 5, "unrecognized"),
    ("huawei_vrp", INTERFACE, "ipv6 address 2001:db8::1/129", 13, "wrong"),
    ("huawei_vrp", INTERFACE, "ipv6 address 2001:db8::g/64", 13, "wrong"),
    ("huawei_vrp", INTERFACE, "qos lr outbound cir fast", 20, "wrong"),
    ("huawei_vrp", INTERFACE, "qos lr inbound cir 1000", 7, "unrecognized"),
    ("huawei_vrp", INTERFACE, "ipv6 address", 13, "incomplete"),
    ("huawei_vrp", SYSTEM, "interface GigabitEthernet0/0/99", 10, "wrong"),
    ("huawei_vrp", AREA, "network 10.0.0.0 0.0.0.255", 0, "unrecognized"),
    ("hp_comware", INTERFACE, "ipv6 enable", 5, "unrecognized"),  # Comware 7 has no such interface command
    ("hp_comware", SYSTEM, "ipv6", 4 + 1, "incomplete"),
    ("cisco_ios", INTERFACE, "ipv6 address 2001:db8::1", 13, "wrong"),
    ("cisco_ios", INTERFACE, "bandwidth 0", 10, "wrong"),
    ("cisco_ios", INTERFACE, "qos lr outbound cir 1000", 0, "unrecognized"),
    ("ruijie_os", SYSTEM, "ipv6 unicast-routing", 5, "unrecognized"),
    ("ruijie_os", SYSTEM, "ipv6 route 2001:db8::/129 2001:db8::1", 11, "wrong"),
]


@pytest.mark.parametrize(("platform", "view", "typed", "column", "kind"), REJECTED)
def test_unknown_and_malformed_lines_are_refused_where_the_device_points(platform: str, view: str, typed: str,
                                                                          column: int, kind: str) -> None:
    assert parse(platform, view, typed, PORTS[platform]) == Rejected(column, kind)


def test_error_texts_are_the_vendors() -> None:
    wrong, unknown = Rejected(3, "wrong"), Rejected(3, "unrecognized")
    assert error_text("huawei_vrp", 6, unknown) == "         ^\nError: Unrecognized command found at '^' position.\n"
    assert error_text("huawei_vrp", 6, wrong).endswith("Error: Wrong parameter found at '^' position.\n")
    assert error_text("hp_comware", 6, wrong).endswith(" % Wrong parameter found at '^' position.\n")
    assert error_text("hp_comware", 6, unknown).endswith(" % Unrecognized command found at '^' position.\n")
    for platform in ("cisco_ios", "ruijie_os"):
        assert error_text(platform, 6, wrong) == "         ^\n% Invalid input detected at '^' marker.\n\n"
        assert error_text(platform, 6, Rejected(9, "incomplete")) == "% Incomplete command.\n\n"


def test_negation_removes_what_it_names() -> None:
    head = "interface GigabitEthernet0/0/1"
    config: Config = ((head, ("description up", "ipv6 enable", "ipv6 address 2001:DB8::1/64",
                              "qos lr outbound cir 1000")),)
    for line in ("undo description", "undo ipv6 address 2001:db8::1/64", "undo qos lr outbound"):
        done = configure("huawei_vrp", config, head, line)
        assert not isinstance(done, Rejected)
        config = done.config
    assert config == ((head, ("ipv6 enable",)),)


def test_overwrite_style_and_ordering_follow_the_device(small: CityPlan) -> None:
    device = first_device(small, "huawei_vrp")
    port = f"interface {device.interfaces[0].name}"
    config = initial_config(device)
    for head, line in (("", "ipv6 route-static :: 0 2001:db8::1"), ("", "ospfv3 1"), ("", "ipv6"),
                       (port, "qos lr outbound cir 1000"), (port, "ipv6 address 2001:db8::2/64"), (port, "ipv6 enable"),
                       (port, "qos lr outbound cir 2000"), ("", "acl ipv6 number 2001")):
        done = configure("huawei_vrp", config, head, line)
        assert not isinstance(done, Rejected), line
        config = done.config
    security = {h for h, _ in security_sections(device)}  # the device's own 等保 settings, placed by the same order
    heads = [h for h, _ in config if h not in security]
    assert heads[:3] == [heads[0], "ipv6", "acl ipv6 number 2001"]  # after sysname, before the interfaces
    assert heads[-2:] == ["ospfv3 1", "ipv6 route-static :: 0 2001:DB8::1"]
    every = [h for h, _ in config]
    assert every.index("acl number 2000") < every.index("acl ipv6 number 2001") < every.index("aaa")
    assert dict(config)[port][-3:] == ("ipv6 enable", "ipv6 address 2001:DB8::2/64", "qos lr outbound cir 2000")
    text = render(device, config, NOW)
    assert text.index("ipv6\n#") < text.index(port) < text.index("ospfv3 1\n")


def test_acl_rules_are_numbered_by_the_device() -> None:
    for platform, first in (("huawei_vrp", 5), ("hp_comware", 0)):
        config: Config = (("acl ipv6 number 2001", ()),)
        for line in ("rule permit source 2001:db8::/32", "rule permit source 2001:db8::/32", "rule deny"):
            done = configure(platform, config, "acl ipv6 number 2001", line)
            assert not isinstance(done, Rejected)
            config = done.config
        assert config[0][1] == (f"rule {first} permit source 2001:DB8::/32", f"rule {first + 5} deny")


@pytest.mark.parametrize(("platform", "bad", "column", "message"), [
    ("huawei_vrp", "ipv6 adress 2001:db8::1/64", 5, "Error: Unrecognized command found at '^' position."),
    ("hp_comware", "ipv6 address 2001:db8::1/200", 13, " % Wrong parameter found at '^' position."),
    ("cisco_ios", "ipv6 addres 2001:db8::1/64", 5, "% Invalid input detected at '^' marker."),
    ("ruijie_os", "ipv6 address 2001:db8:::1/64", 13, "% Invalid input detected at '^' marker."),
])
def test_a_refused_line_prints_the_error_and_changes_nothing(small: CityPlan, platform: str, bad: str, column: int,
                                                             message: str) -> None:
    device = first_device(small, platform)
    state, _ = login(device, fresh_memory(device), NOW)
    lines = ["n"] if platform == "huawei_vrp" else []
    lines += ["enable"] if platform in ("cisco_ios", "ruijie_os") else []
    lines += ["system-view" if platform in ("huawei_vrp", "hp_comware") else "configure terminal",
              f"interface {device.interfaces[0].name}"]
    for line in lines:
        state, _ = handle(state, line, NOW)
    before, width = state.memory.running, len(prompt(state))
    state, text = handle(state, bad, NOW)
    echo, caret, error = text.split("\n")[:3]
    assert (echo, caret, error) == (bad, " " * (width + column) + "^", message)
    assert text.endswith(prompt(state)) and state.memory.running == before


def test_ping_needs_both_ends_configured_and_up(small: CityPlan) -> None:
    a, b = first_device(small, "huawei_vrp"), first_device(small, "cisco_ios")
    pa = next(i.name for i in a.interfaces if i.oper_up)
    pb = next(i.name for i in b.interfaces if i.oper_up)
    target = ipaddress.IPv6Address("2001:db8:7::2")
    registry = Registry()
    ca = (*initial_config(a), ("ipv6", ()))
    ca = tuple((h, (*body, "ipv6 enable", "ipv6 address 2001:DB8:7::1/64") if h == f"interface {pa}" else body)
               for h, body in ca)
    cb = initial_config(b)
    registry.update(a, ca)
    registry.update(b, cb)
    assert not reachable(a, ca, target, registry)  # nobody has the address yet
    cb = tuple((h, (*body, "ipv6 address 2001:DB8:7::2/64") if h == f"interface {pb}" else body) for h, body in cb)
    registry.update(b, cb)
    assert reachable(a, ca, target, registry)
    assert reachable(b, cb, ipaddress.IPv6Address("2001:db8:7::1"), registry)
    shut = tuple((h, (*body, "shutdown") if h == f"interface {pb}" else body) for h, body in cb)
    registry.update(b, shut)
    assert not reachable(a, ca, target, registry)
    registry.update(b, cb)
    no_enable = tuple((h, tuple(x for x in body if x != "ipv6 enable")) for h, body in ca)
    assert not reachable(a, no_enable, target, registry)  # VRP needs `ipv6 enable` on the interface
    assert not reachable(a, ca, ipaddress.IPv6Address("2001:db8:8::2"), registry)  # no route there
