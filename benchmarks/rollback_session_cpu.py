"""What the config module's way back costs: CPU per host of `ansible-playbook` typing one change (a description on
the uplink, saved) on village routers of the small lab, with `keep_rollback_session` off (one session) and on (a
second session opened before typing and a new one after it, to check that the device still takes one).

Run from the repository root:  python benchmarks/rollback_session_cpu.py [--devices 8] [--rounds 2]

The CPU is the controller's (ansible-playbook and its forks, this process's children), as the issue's per-host
figures are; the lab's SSH server runs apart. Rounds alternate off/on so both see the same machine. Last line:
    devices=... cpu_s_per_host_off=... cpu_s_per_host_on=... extra_cpu_s_per_host=... wall_s_off=... wall_s_on=...
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from lab import lab_down, lab_up

ROOT = Path(__file__).resolve().parents[1]
PLAYBOOKS = ROOT / "playbooks"
BIN = Path(sys.executable).parent
PLAY = """
- name: One saved change per device
  hosts: all
  connection: local
  gather_facts: false
  vars_files:
    - {vars}
  tasks:
    - name: The uplink's description
      yiwang.extranet.config:
        parents: ["interface {{{{ yiwang_uplink_name }}}}"]
        lines: ["description yiwang-bench-{{{{ run }}}}"]
        save: true
        keep_rollback_session: "{{{{ keep | bool }}}}"
      no_log: true
"""


def children_cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def villages(hosts: Path, count: int) -> list[str]:
    found: dict[str, dict[str, Any]] = {}
    for group in yaml.safe_load(hosts.read_text())["all"]["children"].values():
        found.update({n: v for n, v in (group.get("hosts") or {}).items() if v})
    names = sorted(n for n, v in found.items() if v.get("yiwang_role") == "village-access" and v.get("yiwang_uplink"))
    by_platform: dict[str, list[str]] = {}
    for name in names:
        by_platform.setdefault(found[name]["yiwang_platform"], []).append(name)
    mixed = [n for group in zip(*by_platform.values(), strict=False) for n in group]  # every platform alike
    return mixed[:count]


def run(work: Path, hosts: Path, play: Path, names: list[str], index: int, keep: bool) -> tuple[float, float]:
    env = {"PATH": f"{BIN}{os.pathsep}/usr/bin:/bin", "HOME": str(work), "PYTHONPATH": str(ROOT),
           "ANSIBLE_CONFIG": str(PLAYBOOKS / "ansible.cfg"), "ANSIBLE_LOCAL_TEMP": str(work / "tmp"),
           "ANSIBLE_NOCOLOR": "1"}
    cpu, started = children_cpu(), time.monotonic()
    done = subprocess.run([str(BIN / "ansible-playbook"), "-i", str(hosts), str(play), "--limit", ",".join(names),
                           "-f", str(len(names)), "-e", f"run={index}", "-e", f"keep={keep}"],
                          capture_output=True, text=True, cwd=PLAYBOOKS, env=env, timeout=600)
    if done.returncode != 0 or done.stdout.count("changed=1 ") != len(names):
        raise SystemExit(f"the playbook failed or changed nothing:\n{done.stdout[-3000:]}")
    return children_cpu() - cpu, time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="yiwang-rollback-bench-") as tmp:
        work = Path(tmp)
        state = work / "lab"
        lab_up(state, profile="small", seed=2026, port=random.randint(20000, 29999))
        try:
            config = state / "yiwang.yaml"
            config.write_text(yaml.safe_dump({"state_dir": str(state)}))
            hosts = work / "hosts.yaml"
            subprocess.run([sys.executable, "-m", "yiwang", "inventory", "ansible", "-c", str(config), "--out",
                            str(hosts)], check=True, capture_output=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
            play = work / "change.yml"
            play.write_text(PLAY.format(vars=PLAYBOOKS / "vars" / "rollout.yml"))
            names = villages(hosts, args.devices)
            totals = {False: [0.0, 0.0], True: [0.0, 0.0]}
            run(work, hosts, play, names, 0, False)  # warm: host keys pinned, caches filled
            for round_ in range(args.rounds):
                for keep in (False, True):
                    cpu_s, wall_s = run(work, hosts, play, names, 1 + 2 * round_ + keep, keep)
                    totals[keep][0] += cpu_s
                    totals[keep][1] += wall_s
                    print(f"round={round_} keep_rollback_session={keep} cpu_s={cpu_s:.2f} wall_s={wall_s:.2f}")
        finally:
            lab_down(state)
    per = {keep: totals[keep][0] / args.rounds / len(names) for keep in totals}
    wall = {keep: totals[keep][1] / args.rounds for keep in totals}
    print(f"devices={len(names)} cpu_s_per_host_off={per[False]:.3f} cpu_s_per_host_on={per[True]:.3f} "
          f"extra_cpu_s_per_host={per[True] - per[False]:.3f} wall_s_off={wall[False]:.2f} "
          f"wall_s_on={wall[True]:.2f}")


if __name__ == "__main__":
    main()
