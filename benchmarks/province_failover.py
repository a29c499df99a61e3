"""The province on three pollers and a core: kill -9 one poller mid-cycle, then cut a city's core.

    python benchmarks/province_failover.py                    # 17 cities, ~30,000 devices, 60 s cycles; ~18 min
    python benchmarks/province_failover.py --profile small    # 3 cities, 300 devices, 10 s cycles; ~6 min
    ... --keep /tmp/run                                       # logs, configurations and run.json (raw) kept
    python benchmarks/province_failover.py --single           # the province polled by one process, one cycle
    python benchmarks/province_failover.py --lab-only         # the simulated province alone: snmpd answers/s

As root (iptables cuts the city), from the repository root. It starts, each on loopback in a temporary folder:
redis-server (the coordination engine), a throwaway PostgreSQL (the shared store), VictoriaMetrics (the sink the
pollers write to, and where this harness reads the polls back), the simulated province (lab/province.py: one net-snmp
snmpd per city, a loopback address per device), a webhook receiver, three `yiwang run --role poller --group default
--member pN` and one `yiwang run --role core`.

What is measured, from the results stream itself (`yiwang:results`: each entry names its poller `p` and slot `s`;
read in pages as the run goes, as it is trimmed at ~500,000 entries), in slots of `slot = floor(t / interval)`:
- every device polled in each slot before the kill (printed as `complete_slots_before_kill`);
- failover_s: from the kill until the last of the killed poller's devices (those it polled in the slot before the
  kill) is polled again by another poller (takeover_s: the first of them);
- duplicate_polls: snmp polls beyond one per (device, slot), plus icmp pollers beyond one per (device, slot) (icmp
  may run twice in a slot on the share claimed for it);
- max_missed_cycles: the longest run of slots without a poll (failed or not), over every device, from the first
  counted slot to the cut;
- then p2 comes back, and after one whole slot on three pollers the last city is cut:
  notifications_for_city_outage: webhook deliveries (distinct keys, not "resolved") after every device of the city
  stops answering SNMP and ping. The shipped alert rules, `for` as shipped (device_unreachable: 2m).
A second count from VictoriaMetrics (`device_uptime_seconds`: one per SUCCESSFUL poll), CPU seconds per cycle of
each process (pollers, core, redis, snmpd, VictoriaMetrics, PostgreSQL, the harness) before the kill, and
`yiwang cluster status --json` before and after the kill are printed above the last line.
Last line: devices=… pollers=… cycle_s=… failover_s=… duplicate_polls=… max_missed_cycles=…
notifications_for_city_outage=…
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import psutil
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from collectors.base import PollResult  # noqa: E402
from lab.probe import Target, sweep  # noqa: E402
from lab.province import PROFILE_DIR, ProvinceLab, ProvincePlan, free_port, generate_province  # noqa: E402
from lab.victoria import command as victoria_command  # noqa: E402
from lab.victoria import pick_port  # noqa: E402
from tests.store.postgres import bin_dir, cluster  # noqa: E402
from yiwang.cluster.transport import STREAM, decode  # noqa: E402

COMMUNITY = "province-bench"
YIWANG = [str(Path(sys.executable).with_name("yiwang"))]
POLLERS = ("p1", "p2", "p3")
GROUP = "default"
METRIC = "device_uptime_seconds"
SETTINGS: dict[str, dict[str, float]] = {  # profile -> interval and lease TTL
    "province": {"interval_s": 60.0, "lease_ttl_s": 15.0},
    "small": {"interval_s": 10.0, "lease_ttl_s": 6.0},
}


# --- pure analysis -----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Figures:
    complete_slots: int  # slots before the kill in which every device was polled
    slots_before_kill: int
    failover_s: float
    duplicate_polls: int
    max_missed_cycles: int


def analyse(polls: Mapping[str, Sequence[float]], interval_s: float, first_slot: int, kill_t: float, end_t: float,
            orphaned: set[str] | None = None) -> Figures:
    """`polls`: device -> poll times (unix s). Slots from `first_slot` up to the one holding `end_t` (exclusive)."""
    kill_slot = math.floor(kill_t / interval_s)
    end_slot = math.floor(end_t / interval_s)
    per_slot: dict[str, dict[int, int]] = {}
    for device, times in polls.items():
        counts: dict[int, int] = {}
        for t in times:
            slot = math.floor(t / interval_s)
            counts[slot] = counts.get(slot, 0) + 1
        per_slot[device] = counts
    duplicates = sum(n - 1 for counts in per_slot.values() for slot, n in counts.items()
                     if first_slot <= slot < end_slot and n > 1)
    complete = sum(1 for slot in range(first_slot, kill_slot) if all(slot in c for c in per_slot.values()))
    missed = 0
    for counts in per_slot.values():
        run = 0
        for slot in range(first_slot, end_slot):
            run = 0 if slot in counts else run + 1
            missed = max(missed, run)
    watched = orphaned if orphaned is not None else set(polls)
    failover = 0.0
    for device in watched:
        after = [t for t in polls.get(device, ()) if t > kill_t]
        failover = max(failover, (min(after) if after else math.inf) - kill_t)
    return Figures(complete, kill_slot - first_slot, failover, duplicates, missed)


def notifications(bodies: Sequence[tuple[float, dict[str, Any]]], since: float) -> int:
    """Distinct deliveries after `since` that announce something (a retry repeats its key; "resolved" is not news)."""
    return len({b.get("key") for t, b in bodies if t >= since and b.get("kind") != "resolved"})


# --- servers -------------------------------------------------------------------------------------------------------


def _wait(what: str, ready: Any, process: subprocess.Popen[bytes] | None, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if process is not None and process.poll() is not None:
            raise SystemExit(f"{what} exited with {process.returncode}")
        if time.monotonic() > deadline:
            raise SystemExit(f"{what} not ready within {timeout:.0f} s")
        time.sleep(0.2)


def _spawn(args: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=env, start_new_session=True)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def redis_server(work: Path) -> Iterator[str]:
    port = pick_port(0)
    (work / "redis").mkdir()
    process = _spawn(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", str(work / "redis"),
                      "--save", "", "--appendonly", "no"], work / "redis.log")

    def ready() -> bool:
        done = subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True, text=True, check=False)
        return done.stdout.strip() == "PONG"

    try:
        _wait("redis-server", ready, process)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        _stop(process)


@contextmanager
def victoria(work: Path) -> Iterator[str]:
    port = pick_port(0)
    binary = shutil.which("victoria-metrics") or "/usr/bin/victoria-metrics"
    process = _spawn(victoria_command(binary, port, work / "victoria"), work / "victoria.log")
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        try:
            return httpx.get(url + "/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        _wait("VictoriaMetrics", ready, process)
        yield url
    finally:
        _stop(process)


@contextmanager
def postgres() -> Iterator[tuple[str, Path]]:
    """The database URL and the server's postmaster.pid."""
    bins = bin_dir()
    if bins is None:
        raise SystemExit("PostgreSQL is not installed (Debian: apt-get install postgresql)")
    with cluster(bins) as pg:
        yield pg.new_database(), pg.root / "data" / "postmaster.pid"


class Webhook:
    """Counts what the core's webhook notifier delivers: (arrival time, body)."""

    def __init__(self) -> None:
        self.bodies: list[tuple[float, dict[str, Any]]] = []
        received = self.bodies

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                size = int(self.headers.get("Content-Length") or 0)
                try:
                    body = json.loads(self.rfile.read(size) or b"{}")
                except ValueError:
                    body = {"unparsed": True}
                received.append((time.time(), body if isinstance(body, dict) else {"body": body}))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


# --- the province and yiwang's configuration ----------------------------------------------------------------------


@contextmanager
def province(plan: ProvincePlan, work: Path) -> Iterator[ProvinceLab]:
    port = free_port([plan.devices[0].address, plan.devices[-1].address])
    started = time.monotonic()
    lab = ProvinceLab.start(plan, work / "snmpd", COMMUNITY, port)
    print(f"province up: {len(plan.devices)} devices, {len(plan.cities)} cities, "
          f"{sum(1 for _ in lab.processes())} snmpd on UDP {port}, in {time.monotonic() - started:.1f} s", flush=True)
    try:
        yield lab
    finally:
        lab.stop()


def write_config(work: Path, plan: ProvincePlan, port: int, interval_s: float, state: str = "state",
                 **extra: Any) -> Path:
    """`state`: each process its own state folder, as on machines of their own (a spool is locked by its owner)."""
    community = work / "community"
    if not community.exists():
        community.write_text(COMMUNITY)
        community.chmod(0o600)
        plan.write_inventory(work / "inventory", community, port)
    document: dict[str, Any] = {
        "state_dir": str(work / state),
        "inventory": [str(work / "inventory")],
        "profiles_dirs": [str(PROFILE_DIR)],
        # Two seconds and one retry: a city cut costs its devices 4 s of a concurrency slot, not the cycle.
        "poll": {"interval_s": interval_s, "timeout_s": 2.0, "retries": 1, "concurrency": 200},
        "ssh": {"enabled": False},
        **extra,
    }
    path = work / f"yiwang-{len(list(work.glob('yiwang-*.yaml')))}.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True))
    return path


def cpu_of(processes: Sequence[psutil.Process]) -> float:
    total = 0.0
    for p in processes:
        try:
            times = p.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            pass
    return total


class StreamLog:
    """Who polled which device in which slot, from the results stream itself: each entry names its poller (`p`)
    and slot (`s`). Read in pages as the run goes (the stream is trimmed at ~500,000 entries, some 8 min of a
    province), by a thread of its own. A result counts as a poll whether it succeeded or not."""

    def __init__(self, url: str, page: int = 5000) -> None:
        import redis

        self.client = redis.Redis.from_url(url)
        self.page = page
        self.last = b"0-0"
        # (collector, device) -> [(slot, poller, poll time s, publish time s)]
        self.polls: dict[tuple[str, str], list[tuple[int, str, float, float]]] = {}
        self.entries = 0
        self.pollers: set[str] = set()
        self.first_id_ms: int | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="stream log", daemon=True)

    def start(self) -> StreamLog:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)
        self.read()

    def _run(self) -> None:
        while not self._stop.wait(2.0):
            try:
                self.read()
            except Exception as exc:  # noqa: BLE001 - a missed page is read on the next round
                print(f"stream log: {type(exc).__name__}: {exc}", flush=True)

    def read(self) -> None:
        while True:
            page: Any = self.client.xrange(STREAM, min=b"(" + self.last, max="+", count=self.page)
            for entry_id, fields in page:
                self.last = entry_id
                id_ms = int(entry_id.split(b"-")[0])
                if self.first_id_ms is None:
                    self.first_id_ms = id_ms
                event = decode(fields[b"m"])
                if not isinstance(event, PollResult):
                    continue
                self.entries += 1
                self.pollers.add(fields[b"p"].decode())
                times = [sample.time_ns for sample in event.samples]
                polled = min(times) / 1e9 if times else id_ms / 1000
                self.polls.setdefault((event.collector, event.device), []).append(
                    (int(fields[b"s"]), fields[b"p"].decode(), polled, id_ms / 1000))
            if len(page) < self.page:
                return

    def slots(self, collector: str) -> dict[str, dict[int, int]]:
        """device -> slot -> polls."""
        out: dict[str, dict[int, int]] = {}
        for (c, device), polls in self.polls.items():
            if c == collector:
                counts = out.setdefault(device, {})
                for slot, *_ in polls:
                    counts[slot] = counts.get(slot, 0) + 1
        return out


@dataclass(frozen=True, slots=True)
class StreamFigures:
    complete_slots: int
    slots_before_kill: int
    failover_s: float  # kill -> the last of the killed poller's devices polled again (poll time)
    takeover_s: float  # kill -> the first of them polled again: when their share moved
    failover_published_s: float  # the same, to when its result reached the stream (what the core sees)
    orphaned: int  # devices the killed poller polled in the last slot before the kill
    duplicate_polls: int  # snmp polls beyond one per device and slot, + icmp pollers beyond one per device and slot
    max_missed_cycles: int  # snmp: longest run of slots without a poll, first counted slot .. the cut's slot
    never_polled: int


def analyse_stream(log: StreamLog, devices: Sequence[str], interval_s: float, first_slot: int, kill_t: float,
                   end_t: float, killed: str) -> StreamFigures:
    kill_slot, end_slot = math.floor(kill_t / interval_s), math.floor(end_t / interval_s)
    duplicates = 0
    for (collector, _), polls in log.polls.items():
        # snmp runs once a slot: a second poll is a double one. icmp may run more often than the slot (icmp_interval_s
        # 30 s in a 60 s slot) on the share claimed for the slot: double only when a second poller polled it.
        seen: dict[int, list[str]] = {}
        for slot, poller, *_ in polls:
            seen.setdefault(slot, []).append(poller)
        duplicates += sum((len(by) if collector == "snmp" else len(set(by))) - 1 for slot, by in seen.items()
                          if first_slot <= slot < end_slot)
    snmp = log.slots("snmp")
    complete = sum(1 for slot in range(first_slot, kill_slot) if all(slot in snmp.get(d, {}) for d in devices))
    missed = 0
    for device in devices:
        counts, run = snmp.get(device, {}), 0
        for slot in range(first_slot, end_slot):
            run = 0 if slot in counts else run + 1
            missed = max(missed, run)
    # the killed poller's share: what it polled in the last slot it finished before the kill
    orphaned = {d for (c, d), polls in log.polls.items() if c == "snmp"
                for slot, poller, *_ in polls if poller == killed and slot == kill_slot - 1}
    failover = published = 0.0
    takeover = math.inf
    for device in orphaned:
        again = [(t, at) for slot, poller, t, at in log.polls.get(("snmp", device), ())
                 if poller != killed and t > kill_t]
        first = min(again) if again else (math.inf, math.inf)
        failover, published = max(failover, first[0] - kill_t), max(published, first[1] - kill_t)
        takeover = min(takeover, first[0] - kill_t)
    return StreamFigures(complete, kill_slot - first_slot, failover, takeover, published, len(orphaned), duplicates,
                         missed, sum(1 for d in devices if d not in snmp))


class CpuMeter:
    """CPU seconds of each part of the run (user + system of a process and its descendants, those that exited
    included), sampled at slot boundaries. The harness counts itself alone: its children are the other parts."""

    def __init__(self, parts: Mapping[str, Sequence[psutil.Process]]) -> None:
        self.parts = {name: list(ps) for name, ps in parts.items()}
        self.samples: list[tuple[float, dict[str, float]]] = []

    def sample(self) -> None:
        now: dict[str, float] = {}
        for name, processes in self.parts.items():
            total = 0.0
            for p in processes:
                try:
                    family = [p] if p.pid == os.getpid() else [p, *p.children(recursive=True)]
                except psutil.NoSuchProcess:
                    continue
                for q in family:
                    try:
                        t = q.cpu_times()
                        total += t.user + t.system
                        if q.pid != os.getpid():  # the harness's own children are the parts above
                            total += t.children_user + t.children_system
                    except psutil.NoSuchProcess:
                        pass
            now[name] = total
        self.samples.append((time.time(), now))

    def per_cycle(self, interval_s: float, since: float, until: float) -> dict[str, float]:
        """CPU-s per interval of each part between the samples nearest `since` and `until`."""
        inside = [(t, v) for t, v in self.samples if since - 1 <= t <= until + 1]
        if len(inside) < 2:
            return {}
        (t0, a), (t1, b) = inside[0], inside[-1]
        return {name: (b.get(name, 0.0) - a.get(name, 0.0)) * interval_s / (t1 - t0) for name in b}


# --- modes ---------------------------------------------------------------------------------------------------------


def lab_only(plan: ProvincePlan, work: Path, rounds: int) -> None:
    """snmpd's answers per second and per CPU-second: sweeps of one sysName GET to every device."""
    with province(plan, work) as lab:
        targets = [Target(d.address, lab.port, COMMUNITY) for d in plan.devices]
        agents = [a.psutil_process for a in lab.processes()]
        for n in range(rounds):
            cpu, started = cpu_of(agents), time.perf_counter()
            answers = sweep(targets, ["1.3.6.1.2.1.1.5.0"], 2.0, 1)
            wall, agent_cpu = time.perf_counter() - started, cpu_of(agents) - cpu
            ok = sum(1 for a in answers if a is not None)
            print(f"sweep {n + 1}: {ok}/{len(targets)} answered in {wall:.1f} s = {ok / wall:.0f}/s (the sweeping "
                  f"client's pace); snmpd CPU {agent_cpu:.1f} s = {ok / max(agent_cpu, 1e-9):.0f} answers per "
                  "snmpd CPU-second", flush=True)


def single(plan: ProvincePlan, work: Path, cycles: int) -> None:
    """`yiwang poll --once` over the whole province in one process (one worker): devices/s and CPU-s a cycle."""
    with province(plan, work) as lab:
        config = write_config(work, plan, lab.port, 60.0)
        agents = [a.psutil_process for a in lab.processes()]
        for n in range(cycles):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            agent_cpu, started = cpu_of(agents), time.perf_counter()
            done = subprocess.run([*YIWANG, "poll", "--once", "--json", "--collector", "snmp", "--workers", "1",
                                   "--config", str(config)], capture_output=True, text=True, check=False)
            wall = time.perf_counter() - started
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            if done.returncode != 0:
                raise SystemExit(f"yiwang poll failed ({done.returncode}): {done.stderr[-2000:]}")
            report = json.loads(done.stdout)["snmp"]
            cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
            print(f"single process, cycle {n + 1}: devices={report['devices']} ok={report['ok']} "
                  f"failed={report['failed']} varbinds={report['varbinds']} cycle_s={report['duration_s']:.1f} "
                  f"devices_per_s={report['devices'] / report['duration_s']:.0f} process_wall_s={wall:.1f} "
                  f"process_cpu_s={cpu:.1f} (startup and inventory load included) "
                  f"snmpd_cpu_s={cpu_of(agents) - agent_cpu:.1f}", flush=True)


def require_roles() -> None:
    done = subprocess.run([*YIWANG, "run", "--help"], capture_output=True, text=True, check=False,
                          env={**os.environ, "COLUMNS": "200"})
    if "--role" not in done.stdout:
        raise SystemExit("`yiwang run` has no --role option yet (issue 15's roles: branch `roles`); the failover "
                         "run needs `yiwang run --role poller|core`. Runnable now: --lab-only and --single.")


def polls_from(victoria_url: str, start: float, end: float) -> tuple[dict[str, list[float]], dict[str, str]]:
    """device -> poll times; device -> the poller that polled it last (when the samples say)."""
    response = httpx.get(f"{victoria_url}/api/v1/export", timeout=300,
                         params={"match[]": METRIC, "start": int(start), "end": int(end) + 1})
    response.raise_for_status()
    polls: dict[str, list[float]] = {}
    pollers: dict[str, str] = {}
    for line in response.text.splitlines():
        if not line.strip():
            continue
        series = json.loads(line)
        device = series["metric"].get("device", "")
        polls.setdefault(device, []).extend(ms / 1000 for ms in series["timestamps"])
        poller = series["metric"].get("poller") or series["metric"].get("member")
        if poller:
            pollers[device] = poller
    for times in polls.values():
        times.sort()
    return polls, pollers


def next_slot_start(interval_s: float, offset_s: float = 0.0) -> float:
    now = time.time()
    return (math.floor(now / interval_s) + 1) * interval_s + offset_s


def sleep_until(t: float) -> None:
    time.sleep(max(0.0, t - time.time()))


def failover(plan: ProvincePlan, work: Path, args: argparse.Namespace) -> None:
    require_roles()
    interval, ttl = args.interval or SETTINGS[args.profile]["interval_s"], SETTINGS[args.profile]["lease_ttl_s"]
    devices = [d.name for d in plan.devices]
    with ExitStack() as stack:
        redis_url = stack.enter_context(redis_server(work))
        database, postmaster = stack.enter_context(postgres())
        sink = stack.enter_context(victoria(work))
        hook = Webhook()
        stack.callback(hook.close)
        lab = stack.enter_context(province(plan, work))
        api_port = pick_port(0)
        configs = {name: write_config(
            work, plan, lab.port, interval, state=f"state-{name}", database_url=database,
            influx={"url": sink, "org": "yiwang", "bucket": "yiwang"},
            api={"port": api_port},
            alerts={"notifiers": [{"name": "bench", "type": "webhook", "url": hook.url}]},
            cluster={"url": redis_url, "lease_ttl_s": ttl, "group": GROUP}) for name in ("core", *POLLERS)}
        processes: dict[str, subprocess.Popen[bytes]] = {}
        processes["core"] = _spawn([*YIWANG, "run", "--role", "core", "--config", str(configs["core"])],
                                   work / "core.log")
        for member in POLLERS:
            processes[member] = _spawn([*YIWANG, "run", "--role", "poller", "--group", GROUP, "--member", member,
                                        "--config", str(configs[member])], work / f"{member}.log")
        for process in processes.values():
            stack.callback(_stop, process)
        stream = StreamLog(redis_url).start()
        stack.callback(stream.stop)
        me = psutil.Process()
        by_name = {name: [p for p in me.children(recursive=True) if p.name() == name]
                   for name in ("redis-server", "victoria-metrics", "snmpd")}
        postgres_pid = int(postmaster.read_text().split()[0])
        meter = CpuMeter({**{name: [psutil.Process(p.pid)] for name, p in processes.items()},
                          "redis": by_name["redis-server"], "victoria": by_name["victoria-metrics"],
                          "snmpd": by_name["snmpd"], "postgres": [psutil.Process(postgres_pid)], "harness": [me]})
        started = time.time()
        # The first slot after every poller published results (a 30,000-device inventory takes a while to load,
        # and the assignment changes as the pollers join) is the first counted.
        def published() -> bool:
            for name, process in processes.items():
                if process.poll() is not None:
                    raise SystemExit(f"{name} exited early ({process.returncode}); see {work / (name + '.log')}")
            return stream.pollers >= set(POLLERS)

        _wait("the three pollers' first results", published, None, 900.0)
        print(f"every poller published after {time.time() - started:.0f} s", flush=True)
        first_slot = math.floor(time.time() / interval) + 1
        kill_at = (first_slot + args.cycles) * interval + args.kill_offset
        print(f"pollers and core started; counting from slot {first_slot}, kill -9 p2 in "
              f"{kill_at - time.time():.0f} s", flush=True)
        sleep_until(first_slot * interval)
        meter.sample()
        for slot in range(first_slot + 1, first_slot + args.cycles + 1):
            sleep_until(slot * interval)
            meter.sample()
            print(f"slot {slot - 1}: {stream.entries} results in the stream so far; cpu-s so far "
                  + " ".join(f"{k}={v:.0f}" for k, v in meter.samples[-1][1].items()), flush=True)
        status_before = cluster_status(configs["core"])
        sleep_until(kill_at)
        for name, process in processes.items():
            if process.poll() is not None:
                raise SystemExit(f"{name} exited early ({process.returncode}); see {work / (name + '.log')}")
        cpu_window = (first_slot * interval, (first_slot + args.cycles) * interval)
        processes["p2"].send_signal(signal.SIGKILL)
        kill_t = time.time()
        print(f"killed p2 at {kill_t:.1f} ({kill_t % interval:.1f} s into its slot)", flush=True)
        sleep_until((math.floor(kill_t / interval) + args.after + 1) * interval)
        status_after = cluster_status(configs["core"])
        # p2 comes back (a new process, the same member): the city cut below then falls on three pollers again
        processes["p2"] = _spawn([*YIWANG, "run", "--role", "poller", "--group", GROUP, "--member", "p2",
                                  "--config", str(configs["p2"])], work / "p2-again.log")
        stack.callback(_stop, processes["p2"])
        back_t = time.time()
        _wait("p2's first results after its restart", lambda: any(
            poller == "p2" and polled > back_t for (c, _), ps in list(stream.polls.items()) if c == "snmp"
            for _, poller, polled, _ in ps[-1:]), processes["p2"], 900.0)
        print(f"p2 back, polling after {time.time() - back_t:.0f} s", flush=True)
        # one whole slot with the three, then the cut a few seconds into the next
        cut_at = (math.floor(time.time() / interval) + 2) * interval + args.kill_offset
        sleep_until(cut_at)
        city = plan.cities[-1]
        last_whole = math.floor(cut_at / interval) - 1
        holders: dict[str, int] = {}
        for (c, device), ps in list(stream.polls.items()):
            if c == "snmp" and device.startswith(city.id.split(".")[-1] + "-"):
                for slot, poller, *_ in ps:
                    if slot == last_whole:
                        holders[poller] = holders.get(poller, 0) + 1
        print(f"{city.id}'s devices by poller in slot {last_whole}: {holders}", flush=True)
        cut_t = time.time()
        cut = lab.cut(city.id)
        print(f"cut {city.id} ({city.name}): {cut} devices unreachable; waiting {args.outage_wait:.0f} s for "
              "notifications", flush=True)
        sleep_until(cut_t + args.outage_wait)
        stream.stop()
        raw = {"interval_s": interval, "first_slot": first_slot, "kill_t": kill_t, "cut_t": cut_t,
               "devices": devices, "hook": hook.bodies, "cpu": meter.samples,
               "polls": [[c, d, ps] for (c, d), ps in stream.polls.items()]}
        (work / "run.json").write_text(json.dumps(raw))
        figures = analyse_stream(stream, devices, interval, first_slot, kill_t, cut_t, "p2")
        polls, _ = polls_from(sink, started, cut_t)
        second = analyse(polls, interval, first_slot, kill_t, cut_t,
                         {d for (c, d), ps in stream.polls.items() if c == "snmp"
                          for slot, poller, *_ in ps if poller == "p2"})
        told = notifications(hook.bodies, cut_t)
        cpu = meter.per_cycle(interval, *cpu_window)
    print(f"cluster before the kill: {status_before}")
    print(f"cluster after the kill: {status_after}")
    print(f"the cut city's devices by poller before the cut: {holders}")
    print("webhook deliveries after the cut: " + json.dumps(
        [{k: b.get(k) for k in ("rule", "kind", "labels", "counts")} | {"after_cut_s": round(t - cut_t, 1)}
         for t, b in hook.bodies if t >= cut_t], ensure_ascii=False))
    print(f"cpu_s_per_cycle (slots {first_slot}..{first_slot + args.cycles - 1}, before the kill): "
          + " ".join(f"{k}={v:.1f}" for k, v in cpu.items())
          + f" total={sum(v for k, v in cpu.items() if k != 'harness'):.1f} of {2 * interval:.0f} (2 cores)")
    print(f"stream: complete_slots_before_kill={figures.complete_slots}/{figures.slots_before_kill} "
          f"devices_never_polled={figures.never_polled} orphaned={figures.orphaned} "
          f"takeover_s={figures.takeover_s:.1f} failover_published_s={figures.failover_published_s:.1f} "
          f"results_read={stream.entries} "
          f"lease_ttl_s={ttl:.0f}")
    print(f"victoria (second count, device_uptime_seconds): complete_slots_before_kill={second.complete_slots}/"
          f"{second.slots_before_kill} devices_seen={len(polls)} failover_s={second.failover_s:.1f} "
          f"duplicate_polls={second.duplicate_polls} max_missed_cycles={second.max_missed_cycles}")
    print(f"webhook_posts={len(hook.bodies)}")
    print(f"devices={len(plan.devices)} pollers={len(POLLERS)} cycle_s={interval:.0f} "
          f"failover_s={figures.failover_s:.1f} duplicate_polls={figures.duplicate_polls} "
          f"max_missed_cycles={figures.max_missed_cycles} notifications_for_city_outage={told}")


def cluster_status(config: Path) -> str:
    done = subprocess.run([*YIWANG, "cluster", "status", "--json", "--config", str(config)], capture_output=True,
                          text=True, check=False, timeout=60)
    if done.returncode != 0:
        return f"(exit {done.returncode}: {done.stderr[-300:]})"
    try:
        status = json.loads(done.stdout)
    except ValueError:
        return done.stdout[-500:]
    return json.dumps({k: status.get(k) for k in ("epoch", "leader", "members", "error")}, ensure_ascii=False)[:1500]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="province", choices=("province", "small"))
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--lab-only", action="store_true", help="the simulated province alone: snmpd answers/s")
    parser.add_argument("--single", action="store_true", help="one process polls the whole province")
    parser.add_argument("--rounds", type=int, default=2, help="sweeps (--lab-only) or cycles (--single)")
    parser.add_argument("--interval", type=float, default=0.0, help="poll interval s (default: 60; small: 10)")
    parser.add_argument("--cycles", type=int, default=3, help="complete slots before the kill")
    parser.add_argument("--kill-offset", type=float, default=3.0, help="s into a slot: mid-cycle")
    parser.add_argument("--after", type=int, default=3, help="slots after the kill's before the cut")
    parser.add_argument("--outage-wait", type=float, default=300.0,
                        help="s after the cut (device rules wait 2m; at 60 s cycles the notice came 218 s after)")
    parser.add_argument("--keep", type=Path, help="work in this (new) folder and keep it: logs, configuration")
    args = parser.parse_args()
    plan = generate_province(args.seed, args.profile)
    with ExitStack() as outer:
        if args.keep is not None:
            args.keep.mkdir(parents=True)
            work = args.keep.resolve()
        else:
            work = Path(outer.enter_context(tempfile.TemporaryDirectory(prefix="yiwang-province-")))
        if args.lab_only:
            lab_only(plan, work, args.rounds)
        elif args.single:
            single(plan, work, args.rounds)
        else:
            failover(plan, work, args)


if __name__ == "__main__":
    main()
