"""The audit trail: appends per second (each one flock'd, fsync'd, with audit.head rewritten and fsync'd) and the
time `verify()` takes to check the whole chain of 10,000 records (target: under 1 s), plus reading the newest
100 records with a filter (`records()`).

Records carry parameters of a realistic size (a silence: area, comment, times). Verification is best of 3 runs.

Run: python benchmarks/audit_verify.py [DIR]   (DIR: where to write, default the system's temp directory; on
tmpfs fsync costs nothing and the append rate means little)
Last line: records=10000 append_per_s=… verify_s=…
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from yiwang.audit import AuditEvent, AuditTrail

RECORDS = 10_000


def event(n: int) -> AuditEvent:
    return AuditEvent(identity=f"operator-{n % 17}", identity_kind="user", roles=["operator"],
                      source=f"10.20.{n % 250}.{n % 200}", action="alerts.silence" if n % 3 else "alerts.ack",
                      target=f"area=hb.hg.hz.t{n % 40}", status=201,
                      parameters={"area": f"hb.hg.hz.t{n % 40}", "comment": f"割接 cutover window {n}",
                                  "starts": "2026-12-01T22:00:00+08:00", "ends": "2026-12-02T02:00:00+08:00",
                                  "password": "not-stored"},
                      outcome="ok" if n % 11 else "denied")


def main() -> None:
    base = Path(sys.argv[1]) if len(sys.argv) > 1 else None
    with tempfile.TemporaryDirectory(dir=base) as work:
        trail = AuditTrail(Path(work) / "audit" / "audit.jsonl")
        started = time.perf_counter()
        for n in range(RECORDS):
            trail.append(event(n))
        append_s = time.perf_counter() - started
        trail.close()
        size = trail.path.stat().st_size
        runs = []
        for _ in range(3):
            started = time.perf_counter()
            result = trail.verify()
            runs.append(time.perf_counter() - started)
            assert result.ok and result.records == RECORDS, result
        started = time.perf_counter()
        newest = trail.records(outcome="denied", limit=100)
        records_s = time.perf_counter() - started
        assert len(newest) == 100
        print(f"file: {size / 1e6:.1f} MB, {size / RECORDS:.0f} bytes a record")
        print(f"append: {append_s:.2f} s for {RECORDS} records")
        print(f"verify: best {min(runs):.3f} s of {', '.join(f'{r:.3f}' for r in runs)}")
        print(f"records(outcome=denied, limit=100): {records_s * 1e3:.1f} ms")
        print(f"records={RECORDS} append_per_s={RECORDS / append_s:.0f} verify_s={min(runs):.3f}")


if __name__ == "__main__":
    main()
