from collectors.snmp.rates import NS, CounterMemory, counter_delta, rate


def test_counter32_wraps_once() -> None:
    assert counter_delta(2**32 - 10, 5, 32) == 15


def test_counter64_going_back_is_a_reset_not_a_wrap() -> None:
    assert counter_delta(2**64 - 10, 5, 64) is None
    assert counter_delta(100, 250, 64) == 150


def test_rate_per_second() -> None:
    assert rate(1000, 0, 3000, 2 * NS, 64) == 1000.0
    assert rate(1000, 5, 3000, 5, 64) is None


def test_agent_restart_forgets_counters() -> None:
    memory = CounterMemory()
    key = ("interface", "1", "in_octets_total")
    memory.observe_uptime(100.0)
    assert memory.rate(key, 10_000, 0, 64) is None
    memory.observe_uptime(160.0)
    assert memory.rate(key, 70_000, 60 * NS, 64) == 1000.0
    # sysUpTime went back: the counter restarted from zero, so no (negative or huge) rate is computed
    assert memory.observe_uptime(5.0) is True
    assert memory.rate(key, 500, 120 * NS, 64) is None
    memory.observe_uptime(65.0)
    assert memory.rate(key, 60_500, 180 * NS, 64) == 1000.0


def test_no_rate_across_a_break_such_as_a_move_between_pollers() -> None:
    memory = CounterMemory()
    key = ("if", "ifInOctets", "1")
    assert memory.rate(key, 0, 0, 32) is None  # first reading
    assert memory.rate(key, 6_000, 60 * NS, 32) == 100.0  # the usual 60 s
    assert memory.rate(key, 24_000, 180 * NS, 32) == 150.0  # twice the usual gap: still a rate
    # away for an hour (polled by another poller meanwhile): a Counter32 may have wrapped many times; no rate
    assert memory.rate(key, 1_000, 3_780 * NS, 32) is None
    # the next poll measures from the reading after the break
    assert memory.rate(key, 7_000, 3_840 * NS, 32) == 100.0
