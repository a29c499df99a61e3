"""Which SNMP targets get the extra IPv6 GET, and the `snmp_ipv6` sample it becomes."""

from __future__ import annotations

import pytest

from collectors.base import PollTarget
from collectors.snmp.over_ipv6 import ipv6_probe_host, polled_over_ipv6, snmp_ipv6_sample

TAGS = (("device", "d"),)


@pytest.mark.parametrize(("host", "host6", "probe", "whole_poll"), [
    ("10.0.0.1", "2001:db8::1", "2001:db8::1", False),  # dual-stack: polled at IPv4, one GET at IPv6
    ("10.0.0.1", None, None, False),  # IPv4 only: nothing to measure over IPv6
    ("2001:db8::1", "2001:db8::1", None, True),  # IPv6 only: the poll itself goes over IPv6
    ("2001:db8::1", "2001:DB8:0::1", None, True),  # the same address spelt differently is not a second place
    ("::1", "::1", None, True),
    ("10.0.0.1", "", None, False),
])
def test_where_snmp_over_ipv6_is_measured(host: str, host6: str | None, probe: str | None,
                                          whole_poll: bool) -> None:
    target = PollTarget("d", host, TAGS, host6=host6)
    assert ipv6_probe_host(target) == probe
    assert polled_over_ipv6(target) is whole_poll


def test_the_sample_carries_the_reason_as_a_label() -> None:
    answered = snmp_ipv6_sample(dict(TAGS), "ok", 0.01, 5)
    assert (answered.measurement, answered.tags, answered.fields["up"]) == (
        "snmp_ipv6", (("device", "d"), ("reason", "ok")), 1.0)
    silent = snmp_ipv6_sample(dict(TAGS), "timeout", 2.0, 5)
    assert (silent.tag("reason"), silent.fields["up"], silent.fields["duration_seconds"]) == ("timeout", 0.0, 2.0)
