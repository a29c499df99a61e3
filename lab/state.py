"""Where a running lab keeps its files, and the small JSON records that say what is running."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from yiwang.config import default_inventory_dir


class LabError(RuntimeError):
    """Anything the lab cannot do, with a message meant for the operator's terminal."""


@dataclass(frozen=True, slots=True)
class LabPaths:
    root: Path

    @classmethod
    def of(cls, state_dir: Path) -> LabPaths:
        return cls(state_dir.resolve() / "lab")

    @property
    def record(self) -> Path:
        return self.root / "lab.json"

    @property
    def faults(self) -> Path:
        return self.root / "faults.json"

    @property
    def secret(self) -> Path:
        return self.root / "community.secret"

    @property
    def usm_user(self) -> Path:
        """`lab up --snmp v3`: the responders' USM user, passwords included (lab.agent_v3.usm_user_json)."""
        return self.root / "usm-user.json"

    def engine_boots(self, responder: str) -> Path:
        """A responder's SNMPv3 snmpEngineBoots; kept across `lab down`, so that boots only ever go up."""
        return self.root / f"{responder}.engine-boots"

    def v3_secret(self, which: str) -> Path:
        """The v3 user's `auth` or `priv` password alone, as the inventory's secret reference reads it."""
        return self.root / f"v3-{which}.secret"

    @property
    def inventory(self) -> Path:
        """Where production reads its inventory when no configuration names one: the lab writes there, so
        production code never has to know the lab exists."""
        return default_inventory_dir(self.root.parent)

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def victoria(self) -> Path:
        """The lab's VictoriaMetrics storage: the simulated history and whatever `yiwang run` writes beside it."""
        return self.root / "victoria-metrics"

    @property
    def history_progress(self) -> Path:
        """How far the background backfill of the city's history is (lab.backfill_job)."""
        return self.root / "history.json"

    @property
    def demo_config(self) -> Path:
        """The yiwang configuration that points the influx sink and capacity.history_url at the lab's database."""
        return self.root / "yiwang-demo.yaml"

    @property
    def data(self) -> Path:
        """The devices' data files, `<device>.snmprec`, which the responders watch."""
        return self.root / "data"

    @property
    def parked(self) -> Path:
        """Data files moved out of the responders' sight by an 'unreachable' fault without iptables."""
        return self.root / "parked"

    def log(self, name: str) -> Path:
        return self.logs / f"{name}.log"

    @property
    def tag(self) -> str:
        """Short and stable per state dir: marks this lab's firewall rules so another lab's stay untouched."""
        return hashlib.sha256(str(self.root).encode()).hexdigest()[:10]

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        # One lab command at a time per state dir: two `lab fault` calls must not both rewrite one data file.
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


@dataclass(frozen=True, slots=True)
class ProcessRecord:
    """A process the lab started; `create_time` guards against signalling a recycled pid."""

    name: str
    pid: int
    create_time: float
    endpoints: int
    devices: int
    log: str


@dataclass(slots=True)
class LabRecord:
    profile: str
    seed: int
    rate_scale: float
    port: int
    started: float
    devices: int
    startup_seconds: float = 0.0
    processes: list[ProcessRecord] = field(default_factory=list)
    snmp: str = "v2c"  # what the inventory polls with: "v2c" (the community) or "v3" (a USM authPriv user)
    history_url: str | None = None  # the lab's VictoriaMetrics (one of `processes`), None with --no-history
    history_days: int = 0
    # Processes that finish on their own (the history backfill): stopped by `lab down`, but a finished one is no
    # sign of a broken lab.
    jobs: list[ProcessRecord] = field(default_factory=list)

    def save(self, path: Path) -> None:
        write_json(path, asdict(self))

    @classmethod
    def load(cls, path: Path) -> LabRecord | None:
        data = read_json(path)
        if not isinstance(data, dict):
            return None
        try:
            processes = [ProcessRecord(**p) for p in data.pop("processes", [])]
            jobs = [ProcessRecord(**p) for p in data.pop("jobs", [])]
            return cls(**data, processes=processes, jobs=jobs)
        except TypeError as exc:
            raise LabError(f"lab state file {path} is from another version ({exc}); stop its agents by pid from "
                           f"{path.parent / 'run'} and remove {path}") from None


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise LabError(f"lab state file {path} is unreadable ({exc}); remove it or run `lab down`") from None


def write_json(path: Path, data: Any) -> None:
    write_atomic(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def write_atomic(path: Path, text: str, mode: int = 0o644, tmp_dir: Path | None = None) -> None:
    """`tmp_dir` (on the same file system) keeps the temporary file out of a watched folder, so that the
    folder changes once, by the final rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = (tmp_dir or path.parent) / f".{path.name}.tmp"
    tmp.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)


def read_manifest(path: Path) -> list[tuple[str, str]]:
    """A responder's devices: `address<TAB>device` lines."""
    pairs = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            address, device = line.split("\t")
            pairs.append((address, device))
    return pairs


def write_manifest(path: Path, pairs: Sequence[tuple[str, str]]) -> None:
    write_atomic(path, "".join(f"{address}\t{device}\n" for address, device in pairs))
