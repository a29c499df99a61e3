"""snmpsim variation module `ramp`: a counter that grows at a fixed rate from a known value at a known time.

Record syntax: `OID|70:ramp|base=<int>,rate=<per second>,t0=<unix time>`; the value served is
`(base + rate * (now - t0)) mod 2**32 or 2**64` by tag, so Counter32 and Counter64 wrap where real ones do.

Why not snmpsim's own `numeric`: it parses a record's options once per OID and caches them for the life of the
process, so a rewritten rate (a fault that stops or floods a counter) would be ignored until a restart, and a
restart resets its time base. Here the options are the whole state: rewriting the record with a new base taken
at the moment of the change keeps the counter continuous, and snmpsim rereads a data file whose mtime changed.

snmpsim loads this file with exec(), so it must import nothing but the standard library.
"""

from __future__ import annotations

import time
from typing import Any, NamedTuple

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
    fields = dict(part.split("=", 1) for part in text.split(","))
    return Ramp(int(fields["base"]), float(fields["rate"]), float(fields["t0"]))


_parsed: dict[str, Ramp] = {}


def init(**context: Any) -> None:
    _parsed.clear()


def variate(oid: Any, tag: str, value: str, **context: Any) -> tuple[Any, str, Any]:
    if context["setFlag"] or (not context["nextFlag"] and not context["exactMatch"]):
        return context["origOid"], tag, context["errorStatus"]
    ramp = _parsed.get(value)
    if ramp is None:
        if len(_parsed) > 100_000:  # each fault adds specs; old ones are never asked for again
            _parsed.clear()
        ramp = _parsed[value] = parse_spec(value)
    return oid, tag, ramp.at(time.time()) % MODULUS[tag]


def shutdown(**context: Any) -> None:
    _parsed.clear()
