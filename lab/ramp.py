"""A counter that grows at a fixed rate from a known value at a known time.

Record syntax in the lab's data files: `OID|70:ramp|base=<int>,rate=<per second>,t0=<unix time>`; the value served
is `(base + rate * (now - t0)) mod 2**32 or 2**64` by tag, so Counter32 and Counter64 wrap where real ones do.

The spec is the whole state: rewriting the record with a new base taken at the moment of a change (a fault that
stops or floods a counter) keeps the counter continuous, and the responder computes the value at request time.
"""

from __future__ import annotations

from typing import NamedTuple

MODULUS = {"65": 2**32, "66": 2**32, "67": 2**32, "70": 2**64}


class Ramp(NamedTuple):
    base: int
    rate: float
    t0: float

    def at(self, now: float) -> int:
        # Integer base plus a float increment: a float base would lose the low digits of a 64-bit counter.
        return self.base + int(self.rate * max(0.0, now - self.t0))

    def spec(self) -> str:
        return f"base={self.base},rate={self.rate:.6f},t0={self.t0:.3f}"


def parse_spec(text: str) -> Ramp:
    parts = text.split(",")
    if len(parts) == 3 and parts[0][:5] == "base=" and parts[1][:5] == "rate=" and parts[2][:3] == "t0=":
        return Ramp(int(parts[0][5:]), float(parts[1][5:]), float(parts[2][3:]))  # as spec() writes it: fast
    fields = dict(part.split("=", 1) for part in text.split(","))
    return Ramp(int(fields["base"]), float(fields["rate"]), float(fields["t0"]))


def served(ramp: Ramp, tag: str, now: float) -> int:
    """What an agent answers for a ramp record of snmprec type `tag` at `now`."""
    return ramp.at(now) % MODULUS[tag]
