"""Coordination engines side by side for poller groups (issue 15, docs/decisions/0001-coordination-engine.md).

Each engine runs on loopback in a temporary folder, and does what a poller group needs of it:
  claim_ms     one atomic per-slot claim of a member's share of 2,300 townships (3 members, ~767 each): lease alive,
               epoch current, each township's last claimed slot older (recorded); median and p95 of 30 slots
  expiry_s     a member stops renewing a 2 s lease: seconds until a watcher polling every 50 ms sees it gone
  hb_cpu_ms    CPU (client process + server) per second for 3 members renewing every 0.5 s, over 10 s
Redis also runs the real yiwang.cluster.PollerMembership: failover_s = a member abandoned -> every survivor holds
the new epoch (lease 2 s, leader checks every 2/3 s), and its claim and heartbeat cost.

    python benchmarks/coordination_engines.py
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg  # noqa: E402
import redis  # noqa: E402
from etcd3gw.client import Etcd3Client  # noqa: E402

from tests.cluster.redis_server import free_port, redis_server  # noqa: E402
from tests.store.postgres import bin_dir, cluster  # noqa: E402
from yiwang.cluster.coordination import PollerMembership, cluster_status  # noqa: E402
from yiwang.cluster.partition import assign, shares  # noqa: E402

TOWNSHIPS = [f"c{i // 135:02d}.t{i:04d}" for i in range(2300)]
MEMBERS = ["p1", "p2", "p3"]
SHARES = shares(assign(TOWNSHIPS, MEMBERS))
SLOTS = 30
TTL = 2


def cpu_of(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed(step: Callable[[int], object]) -> tuple[float, float]:
    took = []
    for slot in range(1, SLOTS + 1):
        start = time.perf_counter()
        step(slot)
        took.append((time.perf_counter() - start) * 1000)
    took.sort()
    return statistics.median(took), took[int(len(took) * 0.95) - 1]


def check(granted: object) -> None:
    assert granted == len(SHARES["p1"]), f"claim granted {granted}, not the whole share"


def expiry(alive: Callable[[], bool], last_renewal: float) -> float:
    while alive():
        time.sleep(0.05)
    return time.monotonic() - last_renewal


def heartbeat_cpu(renew: Callable[[str], object], server_pid: int) -> float:
    client0, server0 = time.process_time(), cpu_of(server_pid)
    end = time.monotonic() + 10
    while time.monotonic() < end:
        for member in MEMBERS:
            renew(member)
        time.sleep(0.5)
    return ((time.process_time() - client0) + (cpu_of(server_pid) - server0)) * 1000 / 10


# --- Redis: a Lua script, as yiwang.cluster does --------------------------------------------------------------

REDIS_CLAIM = """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return -2 end
local n = 0
for i = 3, #ARGV do
  if tonumber(redis.call('HGET', KEYS[3], ARGV[i]) or '-1') < tonumber(ARGV[2]) then
    redis.call('HSET', KEYS[3], ARGV[i], ARGV[2]); n = n + 1
  end
end
return n
"""


def bench_redis() -> dict[str, object]:
    with redis_server() as server:
        client = redis.Redis(port=server.port)
        assert server.process is not None
        client.set("epoch", 1)
        for member in MEMBERS:
            client.set(f"lease:{member}", 1, px=60_000)  # outlives the 30 timed claims
        claim = client.register_script(REDIS_CLAIM)
        share = sorted(SHARES["p1"])
        claim_ms = timed(lambda slot: check(claim(keys=["lease:p1", "epoch", "claimed"], args=[1, slot, *share])))
        client.set("lease:gone", 1, px=TTL * 1000)
        expiry_s = expiry(lambda: bool(client.exists("lease:gone")), time.monotonic())
        cpu = heartbeat_cpu(lambda m: client.set(f"lease:{m}", 1, px=TTL * 1000), server.process.pid)
        full = asyncio.run(membership_figures(server.url, server.process.pid))
        return {"claim_ms": claim_ms, "expiry_s": expiry_s, "hb_cpu_ms": cpu, **full}


async def membership_figures(url: str, server_pid: int) -> dict[str, object]:
    k2d = {t: frozenset({f"{t}-sw", f"{t}-ap"}) for t in TOWNSHIPS}
    group = [PollerMembership(url, "bench", m, k2d, lease_ttl_s=TTL) for m in MEMBERS]
    for member in group:
        await member.start()
    while True:
        status = await cluster_status(url, "bench")
        if sum(1 for m in status.members if m.townships) == 3 and {m.epoch for m in group} == {status.epoch}:
            break
        await asyncio.sleep(0.05)
    took = []
    for slot in range(1, SLOTS + 1):
        start = time.perf_counter()
        await group[0].claim(slot)
        took.append((time.perf_counter() - start) * 1000)
    took.sort()
    client0, server0 = time.process_time(), cpu_of(server_pid)
    await asyncio.sleep(10)
    cpu = ((time.process_time() - client0) + (cpu_of(server_pid) - server0)) * 1000 / 10
    dead, survivors = group[-1], group[:-1]
    epoch = dead.epoch
    last = dead._renewed_at or time.monotonic()
    await dead.abandon()
    while not all(m.epoch > epoch for m in survivors):
        await asyncio.sleep(0.02)
    failover = time.monotonic() - last
    for member in survivors:
        await member.leave()
    return {"membership_claim_ms": (statistics.median(took), took[int(len(took) * 0.95) - 1]),
            "membership_hb_cpu_ms": cpu, "membership_failover_s": failover}


# --- etcd 3.4 through its JSON gateway (etcd3gw, what tooz's etcd3gw driver uses) ------------------------------

@contextmanager
def etcd_server() -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    root = Path(tempfile.mkdtemp(prefix="yiwang-etcd-"))
    port, peer = free_port(), free_port()
    # A claim compares and writes every township of a share in one transaction: the default limit is 128 ops.
    process = subprocess.Popen(
        ["etcd", "--data-dir", str(root / "data"), "--listen-client-urls", f"http://127.0.0.1:{port}",
         "--advertise-client-urls", f"http://127.0.0.1:{port}", "--listen-peer-urls", f"http://127.0.0.1:{peer}",
         "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
         "--initial-cluster", f"default=http://127.0.0.1:{peer}", "--max-txn-ops", "4096",
         "--unsafe-no-fsync"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        client = Etcd3Client(host="127.0.0.1", port=port, api_path="/v3/")
        deadline = time.monotonic() + 20
        while True:
            try:
                client.status()
                break
            except Exception:
                assert time.monotonic() < deadline, "etcd did not start"
                time.sleep(0.1)
        yield port, process
    finally:
        process.kill()
        process.wait()
        shutil.rmtree(root, ignore_errors=True)


def b64(text: str | int) -> str:
    import base64

    return base64.b64encode(str(text).encode()).decode()


def bench_etcd() -> dict[str, object]:
    with etcd_server() as (port, process):
        client = Etcd3Client(host="127.0.0.1", port=port, api_path="/v3/")
        client.put("epoch", "1")
        leases = {m: client.lease(60) for m in MEMBERS}  # outlive the 30 timed claims
        for member, lease in leases.items():
            client.put(f"lease/{member}", "1", lease=lease)
        share = sorted(SHARES["p1"])

        def claim(slot: int) -> None:
            # Per-township "older than this slot" needs one compare each; a txn is all or nothing, so a share that
            # lost one township mid-slot must be re-read and re-claimed (a second round trip) -- not measured here.
            padded = b64(f"{slot:012d}")
            compare = [{"key": b64("lease/p1"), "result": "GREATER", "target": "VERSION", "version": 0},
                       {"key": b64("epoch"), "result": "EQUAL", "target": "VALUE", "value": b64("1")}]
            compare += [{"key": b64(f"claimed/{t}"), "result": "LESS", "target": "VALUE", "value": padded}
                        for t in share] if slot > 1 else []
            success = [{"request_put": {"key": b64(f"claimed/{t}"), "value": padded}} for t in share]
            reply = client.transaction({"compare": compare, "success": success, "failure": []})
            assert reply.get("succeeded"), reply

        claim_ms = timed(claim)
        gone = client.lease(TTL)
        client.put("lease/gone", "1", lease=gone)
        expiry_s = expiry(lambda: bool(client.get("lease/gone")), time.monotonic())
        cpu = heartbeat_cpu(lambda m: leases[m].refresh(), process.pid)
        return {"claim_ms": claim_ms, "expiry_s": expiry_s, "hb_cpu_ms": cpu}


# --- PostgreSQL 15: a lease table and one UPDATE ... RETURNING -------------------------------------------------

PG_CLAIM = """
UPDATE claimed SET slot = %(slot)s
WHERE township = ANY(%(share)s) AND slot < %(slot)s
  AND EXISTS (SELECT 1 FROM leases WHERE member = %(member)s AND expires > clock_timestamp())
  AND EXISTS (SELECT 1 FROM state WHERE epoch = %(epoch)s)
RETURNING township
"""


def bench_postgres() -> dict[str, object]:
    bins = bin_dir()
    if bins is None:
        return {"error": "PostgreSQL is not installed"}
    with cluster(bins) as pg:
        url = pg.url("postgres").replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE TABLE leases (member text PRIMARY KEY, expires timestamptz)")
            conn.execute("CREATE TABLE state (epoch int)")
            conn.execute("INSERT INTO state VALUES (1)")
            conn.execute("CREATE TABLE claimed (township text PRIMARY KEY, slot bigint)")
            with conn.cursor() as cur:
                cur.executemany("INSERT INTO claimed VALUES (%s, -1)", [(t,) for t in TOWNSHIPS])

            def renew(member: str, ttl: float = TTL) -> None:
                conn.execute("INSERT INTO leases VALUES (%s, clock_timestamp() + make_interval(secs => %s)) "
                             "ON CONFLICT (member) DO UPDATE SET expires = excluded.expires", (member, ttl))

            for member in MEMBERS:
                renew(member, 60)  # outlives the 30 timed claims
            share = sorted(SHARES["p1"])
            claim_ms = timed(lambda slot: check(len(conn.execute(
                PG_CLAIM, {"slot": slot, "share": share, "member": "p1", "epoch": 1}).fetchall())))
            renew("gone")
            expiry_s = expiry(lambda: bool(conn.execute(
                "SELECT 1 FROM leases WHERE member = 'gone' AND expires > clock_timestamp()").fetchone()),
                time.monotonic())
            server_pid = int(conn.execute("SELECT pg_backend_pid()").fetchone()[0])  # type: ignore[index]
            cpu = heartbeat_cpu(renew, server_pid)
        return {"claim_ms": claim_ms, "expiry_s": expiry_s, "hb_cpu_ms": cpu}


def main() -> None:
    results = {}
    for engine, bench in (("redis 7.0", bench_redis), ("etcd 3.4", bench_etcd), ("postgresql 15", bench_postgres)):
        print(f"measuring {engine} ...", file=sys.stderr, flush=True)
        results[engine] = bench()
    print(f"{'engine':<15} {'claim ms p50/p95':>18} {'expiry_s (ttl 2)':>17} {'hb cpu ms/s':>12}")
    for engine, figures in results.items():
        if "error" in figures:
            print(f"{engine:<15} {figures['error']}")
            continue
        p50, p95 = figures["claim_ms"]  # type: ignore[misc]
        print(f"{engine:<15} {p50:>9.2f}/{p95:<8.2f} {figures['expiry_s']:>17.2f} {figures['hb_cpu_ms']:>12.2f}")
    r = results["redis 7.0"]
    p50, p95 = r["membership_claim_ms"]  # type: ignore[misc]
    print(f"yiwang.cluster on redis: claim {p50:.2f}/{p95:.2f} ms, failover_s={r['membership_failover_s']:.2f} "
          f"(lease {TTL} s), heartbeats+leader rounds of 3 members {r['membership_hb_cpu_ms']:.2f} ms CPU/s")
    print(json.dumps(results, default=str))


if __name__ == "__main__":
    main()
