"""The city's history backfilled into the lab's VictoriaMetrics in a process of its own, so `lab up` returns at
once: the whole city takes minutes (Python draws 85 M points). The links with something to say (saturating,
fast-growing, with outages: `lab.history.summary`) go first, so the upgrade list is right within seconds; the
rest follow in chunks, and after each one `<state>/lab/history.json` says how far it is (`lab status` shows it).

Run by `lab up` as `python -m lab.backfill_job --state-dir ... --url ... --seed ... --profile ... --days ...`.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from lab.history import LinkHistory, backfill, grid, link_histories, summary
from lab.server_history import backfill as server_backfill
from lab.server_history import server_histories
from lab.state import LabPaths, read_json, write_atomic

NAME = "history-backfill"
CHUNK = 250  # links a batch of progress: ~3 s of drawing on one core
SERVER_DAYS = 8  # the datacentre report reads the servers' last 7 days; 35 would be 150 M points for nothing


@dataclass(frozen=True, slots=True)
class Progress:
    links_total: int
    links_done: int = 0
    points: int = 0
    days: int = 0
    end_s: float = 0.0
    seconds: float = 0.0
    servers: int = 0  # servers whose CPU, memory and disk are in, after the links
    finished: bool = False
    error: str = ""

    def save(self, path: Path) -> None:
        write_atomic(path, json.dumps(asdict(self)) + "\n")

    @classmethod
    def load(cls, path: Path) -> Progress | None:
        data = read_json(path)
        try:
            return cls(**data) if isinstance(data, dict) else None
        except TypeError:
            return None


def ordered(histories: Sequence[LinkHistory]) -> tuple[list[LinkHistory], int]:
    """(the links `summary` names first, then the rest, each in the plan's order; how many it names)."""
    notable = {name for names in summary(histories).values() for name in names}
    first = [h for h in histories if str(h.link.local) in notable]
    return first + [h for h in histories if str(h.link.local) not in notable], len(first)


def chunks(histories: Sequence[LinkHistory], notable: int, size: int = CHUNK) -> list[Sequence[LinkHistory]]:
    """The notable links alone first (made searchable before anything else), then `size` at a time."""
    found: list[Sequence[LinkHistory]] = [histories[:notable]] if notable else []
    found += [histories[at:at + size] for at in range(notable, len(histories), size)]
    return found


def run(state_dir: Path, url: str, seed: int, profile: str, rate_scale: float, days: int) -> Progress:
    from lab.city import TrafficDefaults, generate_city

    paths = LabPaths.of(state_dir)
    started = time.monotonic()
    end = grid(time.time())
    # The lab's own plan (its rate scale too), so the history leads up to the traffic the agents now serve.
    plan = generate_city(seed, profile, TrafficDefaults(rate_scale=rate_scale))
    histories, notable = ordered(link_histories(plan, end, days))
    progress = Progress(len(histories), days=days, end_s=end)
    progress.save(paths.history_progress)
    done = points = 0
    try:
        for chunk in chunks(histories, notable):
            points += backfill(url, chunk, seed, end, days, with_reachability=True).points
            done += len(chunk)
            progress = Progress(len(histories), done, points, days, end, round(time.monotonic() - started, 1))
            progress.save(paths.history_progress)
        servers = server_histories(plan.datacentre, seed)
        points += server_backfill(url, servers, seed, end, min(days, SERVER_DAYS)).points
    except Exception as exc:  # noqa: BLE001 - any failure is the progress file's last word, for `lab status`
        progress = Progress(len(histories), done, points, days, end, round(time.monotonic() - started, 1),
                            error=f"{type(exc).__name__}: {exc}")
        progress.save(paths.history_progress)
        raise
    progress = Progress(len(histories), done, points, days, end, round(time.monotonic() - started, 1),
                        len(servers), finished=True)
    progress.save(paths.history_progress)
    return progress


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--profile", required=True)
    parser.add_argument("--rate-scale", type=float, default=1.0)
    parser.add_argument("--days", type=int, required=True)
    args = parser.parse_args(argv)
    done = run(args.state_dir, args.url, args.seed, args.profile, args.rate_scale, args.days)
    print(f"backfilled {done.links_done} links, {done.points} points, {done.days} days in {done.seconds:.1f} s",
          flush=True)


if __name__ == "__main__":
    main()
