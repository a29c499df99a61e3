"""A compliance run over the whole city's archive, beside the same 13 configuration rules as plain regexes.

Run: .venv/bin/python benchmarks/compliance_city.py [--profile small|city] [--keep]

1. The archive, as yiwang keeps it: every CLI device's configuration as the lab renders it (`lab.ssh.config`
   `initial_config` + `render`: whatever the lab generates, hardening included once it is there) committed through
   `GitArchive.store` and recorded in the `ArchiveIndex` of a temporary SQLite store, one device at a time as a
   backup cycle does. Not part of the 60 s target: timed on its own (a few git processes per device: minutes on
   the city).
2. Run A, in a fresh process (so its peak RSS is its own, not the archive building's): `run_sync`, the path of
   `run_compliance` (the heads read from git in one `git cat-file --batch`, the backup index, every rule of the
   pack on every device, the results stored in SQL): wall, ms per device, peak RSS (this process and its children,
   i.e. git), and RunSummary's read / evaluate / store.
3. Run B, the peer, in the same process over the same texts: the 13 configuration rules the naive way, one pass of
   `re` over the lines per rule, no blocks; and how often A and B disagree per rule.

Last lines: `regex: devices=… rules=13 wall_s=… ms_per_device=… evaluate_ratio=…`, then
`devices=… rules=… wall_s=… ms_per_device=… peak_rss_mb=…` for run A.

Measured 2026-11-30, 2 cores, nice 19, UNDER LOAD (the IPv6 rollout benchmark was running: load average 10-19),
so the figures are upper bounds; seed 2026, 4,237 CLI devices of 4,387:

  main's lab (configurations of 35 lines: hostname and interfaces, before the lab's hardening):
    archive built through GitArchive.store + ArchiveIndex.record_ok: 778 s (4 git processes per device)
    run A: wall 31.95 s = read 3.27 + evaluate 8.29 + store 20.16; 7.54 ms/device; peak RSS 217 MB (144 before)
    run B: wall 10.31 s = read 7.20 + evaluate 3.11; evaluate(A)/B 2.67; parse+checks(A)/B 0.90; 0 disagreements
    regex: devices=4237 rules=13 wall_s=10.31 read_s=7.20 evaluate_s=3.11 ms_per_device=2.43 evaluate_ratio=2.67
    devices=4237 rules=17 wall_s=31.95 ms_per_device=7.54 peak_rss_mb=217
  the lab with the `labhard` branch's hardening laid over it (86 lines on average; hardened/partial/neglected):
    run A: wall 17.36 s = read 7.52 + evaluate 4.65 + store 5.14; 4.10 ms/device; peak RSS 222 MB (146 before)
    run B: wall 9.33 s = read 7.52 + evaluate 1.81; evaluate(A)/B 2.57; parse+checks(A)/B 1.16
    disagreements (of 55,081 results): pw-irreversible 389 (B fails RGOS's `password policy …` as a `password`
    under a line), syslog-server 315 (B passes `info-center loghost source IF`), remote-mgmt-encrypted 47 (B
    passes a second `line vty` block without `transport input` because the first has one); the others agree.
    regex: devices=4237 rules=13 wall_s=9.33 read_s=7.52 evaluate_s=1.81 ms_per_device=2.20 evaluate_ratio=2.57
    devices=4237 rules=17 wall_s=17.36 ms_per_device=4.10 peak_rss_mb=222
  main's archive measured again (--reuse) at load average 4.5, the rollout still running:
    regex: devices=4237 rules=13 wall_s=4.38 read_s=3.62 evaluate_s=0.76 ms_per_device=1.03 evaluate_ratio=2.88
    devices=4237 rules=17 wall_s=9.49 ms_per_device=2.24 peak_rss_mb=217
    (A: read 3.71 + evaluate 2.19 + store 3.57; parse+checks(A)/B 1.52: evaluate_all's own share, the 72,029
    StoredResults with their JSON shapes and the data rules, is what brings A's evaluate near 3x on short texts)
  the same hardened archive measured again (--reuse) at load average 5, the rollout still running:
    regex: devices=4237 rules=13 wall_s=4.58 read_s=3.67 evaluate_s=0.91 ms_per_device=1.08 evaluate_ratio=2.45
    devices=4237 rules=17 wall_s=9.92 ms_per_device=2.34 peak_rss_mb=221
    (A: read 3.63 + evaluate 2.23 + store 4.02; parse+checks(A)/B 1.66)
CLEAN, after the rollout had finished (load average 0.4; --reuse of the same two archives):
  main's lab:
    regex: devices=4237 rules=13 wall_s=3.57 read_s=2.91 evaluate_s=0.66 ms_per_device=0.84 evaluate_ratio=2.56
    devices=4237 rules=17 wall_s=8.44 ms_per_device=1.99 peak_rss_mb=217
    (A: read 3.21 + evaluate 1.70 + store 3.49; parse+checks(A)/B 1.46)
  labhard's hardening laid over it:
    regex: devices=4237 rules=13 wall_s=3.57 read_s=2.85 evaluate_s=0.72 ms_per_device=0.84 evaluate_ratio=3.88
    devices=4237 rules=17 wall_s=9.44 ms_per_device=2.23 peak_rss_mb=222
    (A: read 3.01 + evaluate 2.78 + store 3.61; parse+checks(A)/B 1.62)
  evaluate(A)/B is above 3x in that run (2.45-3.88 over the runs): the parse and the 13 checks cost 1.5-1.7x the
  regexes; the rest is evaluate_all's own work (72,029 StoredResults with their JSON shapes, the data rules; the
  garbage collector ~20 %: evaluate_all 2.0 s with gc off against 2.4-2.6 s on, the bare evaluate() loop 1.2-1.9 s).
The read (both runs): `GitArchive.heads` asks `git cat-file --batch` for `HEAD:<device>.cfg`, and git resolves the
4,237-entry root tree again for every request: 4.4 s for the city, against 0.25 s for `git ls-tree HEAD` once and
the blob ids to `cat-file --batch` (measured on this archive). Made so in yiwang/archive/git.py afterwards: on a
one-commit repository of the 4,237 lab configurations, 0.28-0.41 s against 2.8 s the old way.
Where A's time goes (cProfile, small profile and city): the store (72,029 rows written on a first run: the rows'
JSON and SQLAlchemy's per-row parameters) and the parse (parse.parse ~1 ms/device, then `Config.find`'s walks of
every line per rule); nothing is non-linear, and the run is under the 60 s target even under load, so nothing in
yiwang/compliance was changed.
Then made cheaper (the evaluate step only, same results: the 72,029 StoredResults of the city's lab configurations
hashed equal before and after): `parse` keeps every line and its text in a flat list as it reads them, so
`Config.find`/`blocks` are one `map(pattern.match)` in C instead of a walk of the tree per search; pw-irreversible,
no-default-account and insecure-services-off search through `find`; `StoredResult.of` no longer builds the whole
JSON shape to take its exemption; area paths once per area. evaluate_all over the city's 4,237 rendered
configurations, no git (CPU seconds, best of 7, loaded machine): 1.74-1.88 s before, 1.44-1.61 s after; against
the regex peer's 0.71-0.76 s in the same processes: 2.39-2.58x before, 1.92-2.20x after; cProfile 11.4 M function
calls before, 5.1 M after; `parse` alone 0.22 s -> 0.18 s.
The whole benchmark again with all of that (2026-11-30 10:26, machine quiet, the hardened lab, a fresh archive):
    archive built with GitArchive.store_many, 500 at a time: 8.9 s (778 s one commit per device)
    run A: wall 6.28 s = read 0.49 + evaluate 2.30 + store 3.46; 1.48 ms/device; peak RSS 222 MB
    ratio evaluate(A)/evaluate(B) = 1.92; parse+checks(A)/evaluate(B) = 1.36; disagreements 751 of 55,081, all traps
    regex: devices=4237 rules=13 wall_s=1.55 read_s=0.35 evaluate_s=1.20 ms_per_device=0.37 evaluate_ratio=1.92
    devices=4237 rules=17 wall_s=6.28 ms_per_device=1.48 peak_rss_mb=222
"""

from __future__ import annotations

import argparse
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from pathlib import Path

SEED = 2026
Status = str  # pass | fail | not-applicable


# --- the archive ------------------------------------------------------------------------------------------------

def build(profile: str, work: Path) -> int:
    """The inventory files and the archive of every CLI device; the number of devices archived."""
    from collectors.platforms import UnknownPlatform, cli_of
    from lab.city import generate_city
    from lab.ssh.config import initial_config, render
    from yiwang.archive.git import GitArchive
    from yiwang.store import open_store

    clock = time.perf_counter()
    plan = generate_city(SEED, profile)
    (work / "secret").write_text("public\n")
    plan.to_inventory_yaml(work / "inventory", work / "secret")
    now = datetime.now(UTC)
    texts: dict[str, str] = {}
    for device in plan.devices:
        try:
            cli_of(device.platform)
        except UnknownPlatform:
            continue
        texts[device.name] = render(device, initial_config(device), now)
    lines = sum(t.count("\n") for t in texts.values())
    print(f"plan and render: {len(texts)} configurations, {lines / len(texts):.0f} lines each on average, "
          f"{sum(map(len, texts.values())) / 1e6:.1f} MB, {time.perf_counter() - clock:.1f}s", flush=True)
    clock = time.perf_counter()
    archive, index = GitArchive(work / "repo"), open_store(f"sqlite:///{work}/archive.db").archive
    names = list(texts)
    for start in range(0, len(names), 500):  # as a backup cycle commits: what arrived meanwhile, together
        chunk = {name: texts[name] for name in names[start:start + 500]}
        index.record_ok_many(archive.store_many(chunk, now), now.timestamp())
        print(f"  archived {start + len(chunk)}/{len(texts)} ({time.perf_counter() - clock:.0f}s)", flush=True)
    print(f"archive built (GitArchive.store_many + ArchiveIndex.record_ok_many, 500 at a time): {len(texts)} "
          f"devices {time.perf_counter() - clock:.1f}s (not part of the run's target)", flush=True)
    return len(texts)


# --- run B: the naive peer --------------------------------------------------------------------------------------
# What someone would write from the catalogue with grep habits: each rule one pass of `re` over the lines, commands
# anchored at the line's first word, no notion of which block a line is in.

VRP_LIKE = ("huawei_vrp", "hp_comware")
DEFAULT_NAMES = {"admin", "huawei", "h3c", "cisco", "ruijie", "root", "guest", "test", "user"}
Naive = Callable[[list[str], str], Status]


def _any(lines: list[str], pattern: str) -> bool:
    compiled = re.compile(pattern)
    return any(compiled.search(line) for line in lines)


def _numbers(lines: list[str], pattern: str) -> list[tuple[int, ...]]:
    compiled = re.compile(pattern)
    return [tuple(int(g or 0) for g in m.groups()) for line in lines if (m := compiled.search(line))]


def _verdict(ok: bool) -> Status:
    return "pass" if ok else "fail"


def naive_pw_irreversible(lines: list[str], platform: str) -> Status:
    if platform == "huawei_vrp":
        bad = r"^\s*(local-user \S+ password (cipher|simple)|super password .*(cipher|simple))|password simple"
    elif platform == "hp_comware":
        bad = r"password (simple|cipher)\b"
    else:
        bad = r"^\s*(enable password|username \S+ .*password|password )"
    return _verdict(not _any(lines, bad))


def naive_pw_policy(lines: list[str], platform: str) -> Status:
    if platform == "huawei_vrp":
        ages = _numbers(lines, r"^\s*password expire (\d+)")
        return _verdict(_any(lines, r"^\s*local-aaa-user password policy administrator")
                        and bool(ages) and all(1 <= a <= 90 for (a,) in ages))
    if platform == "hp_comware":
        lengths, ages = (_numbers(lines, r"^\s*password-control length (\d+)"),
                         _numbers(lines, r"^\s*password-control aging (\d+)"))
        return _verdict(_any(lines, r"^\s*password-control enable") and bool(lengths) and bool(ages)
                        and all(n >= 8 for (n,) in lengths) and all(1 <= a <= 90 for (a,) in ages))
    if platform == "ruijie_os":
        lengths, ages = (_numbers(lines, r"^\s*password policy min-size (\d+)"),
                         _numbers(lines, r"^\s*password policy life-cycle (\d+)"))
        return _verdict(bool(lengths) and bool(ages) and all(n >= 8 for (n,) in lengths)
                        and all(1 <= a <= 90 for (a,) in ages))
    lengths = _numbers(lines, r"^\s*security passwords min-length (\d+)")
    return _verdict(bool(lengths) and all(n >= 8 for (n,) in lengths))


def naive_login_lockout(lines: list[str], platform: str) -> Status:
    if platform == "ruijie_os":
        return "not-applicable"
    if platform == "huawei_vrp":
        found = _numbers(lines, r"^\s*local-aaa-user wrong-password retry-interval \d+ "
                                r"retry-time (\d+) block-time (\d+)")
        return _verdict(any(n <= 5 and m >= 5 for n, m in found))
    if platform == "hp_comware":
        found = _numbers(lines, r"^\s*password-control login-attempt (\d+) exceed lock")
        return _verdict(any(n <= 5 for (n,) in found))
    found = _numbers(lines, r"^\s*(?:login block-for \d+ attempts|aaa local authentication attempts max-fail) (\d+)")
    return _verdict(any(n <= 5 for (n,) in found))


def naive_idle_timeout(lines: list[str], platform: str) -> Status:
    command = "exec-timeout" if platform in ("cisco_ios", "ruijie_os") else "idle-timeout"
    found = _numbers(lines, rf"^\s*{command} (\d+)(?: (\d+))?")
    return _verdict(not any((m == 0 and s == 0) or m > 10 for m, s in found))


def naive_remote_mgmt_encrypted(lines: list[str], platform: str) -> Status:
    if platform in VRP_LIKE:
        return _verdict(not _any(lines, r"^\s*(telnet server enable|protocol inbound (telnet|all))"))
    transports = [line for line in lines if re.search(r"^\s*transport input", line)]
    bad = (any(re.search(r"\b(telnet|all)\b", t) for t in transports)
           or (not transports and _any(lines, r"^line vty")) or _any(lines, r"^\s*ip ssh version 1")
           or (platform == "ruijie_os" and _any(lines, r"^\s*enable service telnet-server")))
    return _verdict(not bad)


def naive_central_aaa(lines: list[str], platform: str) -> Status:
    if platform == "huawei_vrp":
        return _verdict(_any(lines, r"^\s*authentication-mode (hwtacacs|radius)")
                        and _any(lines, r"^\s*(hwtacacs|radius)[- ]server template"))
    if platform == "hp_comware":
        return _verdict(_any(lines, r"^\s*authentication login (hwtacacs|radius)-scheme")
                        and _any(lines, r"^\s*(hwtacacs|radius) scheme"))
    return _verdict(_any(lines, r"^\s*aaa new-model") and _any(lines, r"^\s*aaa authentication login default group"))


def naive_no_default_account(lines: list[str], platform: str) -> Status:
    pattern = re.compile(r"^\s*local-user (\S+)" if platform in VRP_LIKE else r"^\s*username (\S+)")
    return _verdict(not any((m := pattern.search(line)) and m.group(1).lower() in DEFAULT_NAMES for line in lines))


def naive_syslog_server(lines: list[str], platform: str) -> Status:
    if platform in VRP_LIKE:
        return _verdict(_any(lines, r"^\s*info-center loghost \S+"))
    if platform == "ruijie_os":
        return _verdict(_any(lines, r"^\s*logging server \S+"))
    return _verdict(_any(lines, r"^\s*logging (host )?\d+\.\d+\.\d+\.\d+"))


def naive_ntp_server(lines: list[str], platform: str) -> Status:
    pattern = r"^\s*ntp-service unicast-server \S+" if platform in VRP_LIKE else r"^\s*ntp server \S+"
    return _verdict(_any(lines, pattern))


def naive_insecure_services_off(lines: list[str], platform: str) -> Status:
    bad = {"huawei_vrp": r"^\s*(ftp|http) server enable", "hp_comware": r"^\s*(ftp server enable|ip http enable)",
           "cisco_ios": r"^\s*ip http server", "ruijie_os": r"^\s*enable service web-server(?! https)"}[platform]
    return _verdict(not _any(lines, bad))


def naive_mgmt_acl(lines: list[str], platform: str) -> Status:
    if platform in VRP_LIKE:
        return _verdict(_any(lines, r"^\s*(acl \S+ inbound|ssh server acl)"))
    return _verdict(_any(lines, r"^\s*access-class \S+ in"))


def naive_snmp_v3_priv_only(lines: list[str], platform: str) -> Status:
    if platform in VRP_LIKE:
        return _verdict(not _any(lines, r"^\s*snmp-agent community")
                        and not any(re.search(r"^\s*snmp-agent group v3", line) and "privacy" not in line
                                    for line in lines))
    return _verdict(not _any(lines, r"^\s*snmp-server community|^\s*snmp-server group \S+ v3 (noauth|auth)\b"))


def naive_snmp_traps_to_nms(lines: list[str], platform: str) -> Status:
    if platform in VRP_LIKE:
        return _verdict(_any(lines, r"^\s*snmp-agent target-host trap") and _any(lines, r"^\s*snmp-agent trap enable"))
    return _verdict(_any(lines, r"^\s*snmp-server host \S+") and _any(lines, r"^\s*snmp-server enable traps"))


NAIVE: dict[str, Naive] = {
    "pw-irreversible": naive_pw_irreversible, "pw-policy": naive_pw_policy, "login-lockout": naive_login_lockout,
    "idle-timeout": naive_idle_timeout, "remote-mgmt-encrypted": naive_remote_mgmt_encrypted,
    "central-aaa": naive_central_aaa, "no-default-account": naive_no_default_account,
    "syslog-server": naive_syslog_server, "ntp-server": naive_ntp_server,
    "insecure-services-off": naive_insecure_services_off, "mgmt-acl": naive_mgmt_acl,
    "snmp-v3-priv-only": naive_snmp_v3_priv_only, "snmp-traps-to-nms": naive_snmp_traps_to_nms,
}


def run_naive(configs: Mapping[str, str], platforms: Mapping[str, str]) -> dict[tuple[str, str], Status]:
    found = {}
    for device, text in configs.items():
        lines = text.splitlines()
        for rule, check in NAIVE.items():
            found[device, rule] = check(lines, platforms[device])
    return found


# --- the measurement (a process of its own) ---------------------------------------------------------------------

def peak_rss_mb() -> float:
    return max(resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)) / 1024


def measure(work: Path) -> None:
    from inventory.loader import load_inventory
    from yiwang.archive.git import GitArchive
    from yiwang.compliance.evaluate import evaluate
    from yiwang.compliance.history import ComplianceHistory
    from yiwang.compliance.run import checked_devices, rule_pack, run_sync
    from yiwang.config import ComplianceSettings
    from yiwang.store import open_store

    loaded = load_inventory([work / "inventory"])
    inventory = loaded.inventory
    # every measurement a first run, over a copy of the archive's store (a second run would write only changes)
    shutil.copyfile(work / "archive.db", work / "measure.db")
    store = open_store(f"sqlite:///{work}/measure.db")
    git, history = GitArchive(work / "repo"), ComplianceHistory(store.engine)
    settings = ComplianceSettings()
    rss_before = peak_rss_mb()

    clock = time.perf_counter()
    summary = run_sync(settings, inventory, git, store.archive, history, today=date.today(), trigger="manual")
    wall_a = time.perf_counter() - clock
    rss_a = peak_rss_mb()
    devices = summary.run.devices
    print(f"run A (run_sync): devices={devices} rules={summary.run.rules} wall_s={wall_a:.2f} "
          f"read_s={summary.read_s:.2f} evaluate_s={summary.evaluate_s:.2f} store_s={summary.store_s:.2f} "
          f"ms_per_device={1000 * wall_a / devices:.2f} peak_rss_mb={rss_a:.0f} (before the run {rss_before:.0f}) "
          f"failed={summary.run.failed}", flush=True)

    results = history.results(summary.run.id)
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for r in results:
        counts[r.rule][r.status] += 1
    statuses = ("pass", "fail", "not-applicable", "exempt", "error")
    print(f"\nper rule on the {devices} devices (run A):")
    print(f"  {'rule':<24}" + "".join(f"{s:>15}" for s in statuses))
    for rule in [r.id for r in rule_pack(settings).rules]:
        print(f"  {rule:<24}" + "".join(f"{counts[rule][s]:>15}" for s in statuses))

    clock = time.perf_counter()
    names = [d.name for d in checked_devices(inventory)]
    configs = git.heads(names)
    read_b = time.perf_counter() - clock
    platforms = {d.name: d.platform for d in inventory.devices.values()}
    clock = time.perf_counter()
    naive = run_naive(configs, platforms)
    evaluate_b = time.perf_counter() - clock
    wall_b = read_b + evaluate_b

    # A's configuration rules alone, like for like with B: parse + the 13 checks per device, nothing stored
    pack = rule_pack(settings)
    clock = time.perf_counter()
    for device, text in configs.items():
        evaluate(text, platforms[device], pack, today=date.today())
    evaluate_a_config = time.perf_counter() - clock

    ours = {(r.device, r.rule): r.status for r in results if r.rule in NAIVE}
    print(f"\ndisagreements, run A (yiwang's blocks) against run B (regex over lines), of {len(configs)} devices:")
    print(f"  {'rule':<24}{'A pass, B fail':>16}{'A fail, B pass':>16}{'other':>8}   first example")
    total = 0
    for rule in NAIVE:
        split: Counter[str] = Counter()
        example = ""
        for device in configs:
            a, b = ours[device, rule], naive[device, rule]
            if a == b:
                continue
            kind = "pf" if (a, b) == ("pass", "fail") else "fp" if (a, b) == ("fail", "pass") else "other"
            split[kind] += 1
            example = example or f"{device} ({platforms[device]}): A {a}, B {b}"
        total += sum(split.values())
        print(f"  {rule:<24}{split['pf']:>16}{split['fp']:>16}{split['other']:>8}   {example}")
    print(f"  {'all':<24}{total:>40} of {len(ours)} results")

    print(f"\nratio evaluate(A)/evaluate(B) = {summary.evaluate_s:.2f}s / {evaluate_b:.2f}s = "
          f"{summary.evaluate_s / evaluate_b:.2f} (A's evaluate_all: 17 rules and the stored results' shape)")
    print(f"ratio parse+checks(A)/evaluate(B) = {evaluate_a_config:.2f}s / {evaluate_b:.2f}s = "
          f"{evaluate_a_config / evaluate_b:.2f} (the same 13 rules: `evaluate()` per device, nothing stored)")
    print(f"ratio wall(A)/wall(B) = {wall_a:.2f}s / {wall_b:.2f}s = {wall_a / wall_b:.2f}")
    print(f"regex: devices={len(configs)} rules={len(NAIVE)} wall_s={wall_b:.2f} read_s={read_b:.2f} "
          f"evaluate_s={evaluate_b:.2f} ms_per_device={1000 * wall_b / len(configs):.2f} "
          f"evaluate_ratio={summary.evaluate_s / evaluate_b:.2f}")
    print(f"devices={devices} rules={summary.run.rules} wall_s={wall_a:.2f} "
          f"ms_per_device={1000 * wall_a / devices:.2f} peak_rss_mb={rss_a:.0f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--profile", choices=("small", "city"), default="city", help="small: one county")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (archive, store, inventory)")
    parser.add_argument("--reuse", type=Path, help="a folder kept by --keep: measure its archive, build none")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)  # the child process: runs A and B only
    args = parser.parse_args()
    if args.measure is not None:
        measure(args.measure)
        return
    if args.reuse is not None:
        subprocess.run([sys.executable, __file__, "--measure", str(args.reuse)], check=True)
        return
    work = Path(tempfile.mkdtemp(prefix=f"compliance-{args.profile}-"))
    try:
        build(args.profile, work)
        subprocess.run([sys.executable, __file__, "--measure", str(work)], check=True)
    finally:
        if args.keep:
            print(f"kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
