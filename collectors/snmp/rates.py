"""Counter to rate: 32- and 64-bit wrap and agent restarts. Pure functions plus one small state holder."""

from __future__ import annotations

from dataclasses import dataclass, field

NS = 1_000_000_000
# A gap this many times the counter's last one is a break (the device moved to this poller from another and back,
# or was away for long): no rate across it. A Counter32 may have wrapped more than once in it, and even a Counter64's
# average over an hour is no reading of now. RRD's heartbeat, in relative terms: the collector knows no interval.
BREAK_FACTOR = 3


def counter_delta(previous: int, current: int, bits: int) -> int | None:
    """Increase of a counter between two reads, or None when it cannot be trusted.

    A Counter32 that goes back has wrapped (at 100 Gbit/s it wraps in 0.3 s, so a wrap is expected);
    a Counter64 that goes back was reset, since a real wrap would take centuries.
    """
    if current >= previous:
        return current - previous
    if bits == 32:
        return current + (1 << 32) - previous
    return None


def rate(previous: int, previous_ns: int, current: int, current_ns: int, bits: int) -> float | None:
    elapsed = (current_ns - previous_ns) / NS
    if elapsed <= 0:
        return None
    delta = counter_delta(previous, current, bits)
    return None if delta is None else delta / elapsed


def restarted(previous_uptime: float | None, current_uptime: float | None) -> bool:
    """sysUpTime going back means the agent restarted: every counter started again from zero."""
    return previous_uptime is not None and current_uptime is not None and current_uptime < previous_uptime


@dataclass(slots=True)
class CounterMemory:
    """The last reading of each counter of one device, so the next poll can turn it into a rate."""

    uptime: float | None = None
    # value, time, bits, and the gap before that reading (0: none yet)
    readings: dict[tuple[str, str, str], tuple[int, int, int, int]] = field(default_factory=dict)

    def observe_uptime(self, uptime: float | None) -> bool:
        """Record the agent's uptime; returns True (and forgets every reading) when the agent restarted."""
        was_restart = restarted(self.uptime, uptime)
        if was_restart:
            self.readings.clear()
        if uptime is not None:
            self.uptime = uptime
        return was_restart

    def rate(self, key: tuple[str, str, str], value: int, time_ns: int, bits: int) -> float | None:
        """None for a first reading; when the width changed (the row switched between a 64-bit counter and its
        32-bit fallback, two counters whose difference means nothing); and across a break (`BREAK_FACTOR`)."""
        previous = self.readings.get(key)
        gap = 0 if previous is None else time_ns - previous[1]
        self.readings[key] = (value, time_ns, bits, gap)
        if previous is None or previous[2] != bits:
            return None
        usual = previous[3]
        if usual > 0 and gap > BREAK_FACTOR * usual:
            return None
        return rate(previous[0], previous[1], value, time_ns, bits)
