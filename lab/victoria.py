"""The lab's metric history: Debian's VictoriaMetrics on loopback, which `yiwang run` writes to through its InfluxDB
line protocol sink and `yiwang capacity` reads back over the Prometheus query API; and the yiwang configuration
that says so (`<state>/lab/yiwang-demo.yaml`)."""

from __future__ import annotations

import os
import shutil
import socket
import time
from pathlib import Path

import httpx
import yaml

from lab.agents import _spawn, is_running, log_tail, stop_process
from lab.state import LabError, LabPaths, ProcessRecord, write_atomic

BINARY = "victoria-metrics"
NAME = "victoria-metrics"
DEFAULT_PORT = 8428  # VictoriaMetrics' own default: what its documentation and an operator's muscle memory expect
RETENTION = "2y"  # `yiwang lab history --days` reaches back up to 400 days; points older than this are refused
START_TIMEOUT = 30.0
# The city's capacity report asks for 200 devices' interfaces over 35 days per query: a long regex, ~10,000
# steps a series, tens of seconds on 2 cores. The defaults (16 KB queries, 30 s) are sized for dashboards.
SEARCH_LIMITS = ("-search.maxQueryLen=1MB", "-search.maxQueryDuration=600s", "-search.maxSeries=1000000",
                 "-search.maxUniqueTimeseries=1000000", "-search.maxSamplesPerQuery=5000000000",
                 "-search.maxPointsPerTimeseries=100000")
CAPACITY_TIMEOUT_S = 300.0


def command(binary: str, port: int, data_dir: Path) -> list[str]:
    # latencyOffset 0: a point the poller has just written is in the next query, as the capacity reports expect.
    return [binary, f"-httpListenAddr=127.0.0.1:{port}", f"-storageDataPath={data_dir}",
            f"-retentionPeriod={RETENTION}", "-search.latencyOffset=0s", *SEARCH_LIMITS]


def pick_port(preferred: int) -> int:
    """`preferred` when nothing listens there (0: any), else a free port the kernel hands out."""
    for port in ((preferred, 0) if preferred else (0,)):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise LabError("no free TCP port on 127.0.0.1 for the lab's VictoriaMetrics")


def start(paths: LabPaths, preferred_port: int = DEFAULT_PORT) -> tuple[ProcessRecord, str]:
    """A fresh VictoriaMetrics (the history of an earlier lab is removed: a new backfill draws other points for the
    same instants) that outlives the CLI; returns once it answers /health."""
    binary = shutil.which(BINARY) or ("/usr/bin/" + BINARY if Path("/usr/bin/" + BINARY).exists() else None)
    if binary is None:
        raise LabError("VictoriaMetrics is not installed (Debian: apt-get install victoria-metrics); or run "
                       "`lab up --no-history`")
    shutil.rmtree(paths.victoria, ignore_errors=True)
    paths.victoria.mkdir(parents=True)
    paths.logs.mkdir(parents=True, exist_ok=True)
    port = pick_port(preferred_port)
    process = _spawn(NAME, command(binary, port, paths.victoria / "data"), dict(os.environ), paths.log(NAME), 1, 0)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(process, url)
    except BaseException:
        stop_process(process)
        raise
    return process, url


def wait_ready(process: ProcessRecord, url: str, timeout: float = START_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=1.0) as client:
        while True:
            if not is_running(process):
                raise LabError(f"the lab's VictoriaMetrics did not start: {log_tail(process)}")
            try:
                if client.get(url + "/health").status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise LabError(f"the lab's VictoriaMetrics did not answer at {url} within {timeout:.0f} s; see "
                               f"{process.log}")
            time.sleep(0.1)


def demo_config(state_dir: Path, url: str, path: Path) -> str:
    """A complete yiwang configuration: the built-in defaults, the state folder named (so the lab's inventory there
    is found by whoever loads this file), yiwang's influx sink writing to the lab's VictoriaMetrics (which takes the
    InfluxDB v2 write API, no token) and the capacity reports reading from it (metric names as that sink leaves
    them: no prefix)."""
    document = {
        "state_dir": str(state_dir),
        "influx": {"url": url, "org": "yiwang", "bucket": "yiwang"},
        "capacity": {"history_url": url, "metric_prefix": "", "timeout_s": CAPACITY_TIMEOUT_S},
    }
    return ("# Written by `yiwang lab up`; removed by `yiwang lab down`. Use it with\n"
            f"#   export YIWANG_CONFIG={path}\n"
            + yaml.safe_dump(document, sort_keys=False, allow_unicode=True))


def write_demo_config(paths: LabPaths, url: str) -> Path:
    write_atomic(paths.demo_config, demo_config(paths.root.parent, url, paths.demo_config))
    return paths.demo_config


def remove(paths: LabPaths) -> None:
    """The history goes with the lab: the next `lab up` backfills anew."""
    shutil.rmtree(paths.victoria, ignore_errors=True)
    for file in (paths.demo_config, paths.history_progress):
        file.unlink(missing_ok=True)
