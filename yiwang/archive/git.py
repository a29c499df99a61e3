"""One git repository of device configs: `<device>.cfg` per device, one commit per real change.

The git CLI with argument lists only (no shell); device names are checked before they become paths.
Blocking; callers on the event loop use `asyncio.to_thread`.
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

DEVICE_NAME = re.compile(r"^[A-Za-z0-9._-]+$")
COMMIT = re.compile(r"^[0-9a-f]{4,64}$")
AUTHOR = ("yiwang", "yiwang@localhost")


class ArchiveError(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class Version:
    commit: str
    time: datetime
    message: str


def config_file(device: str) -> str:
    if not DEVICE_NAME.match(device) or device in (".", ".."):
        raise ValueError(f"device name {device!r} is not safe as a file name")
    return f"{device}.cfg"


def _commit_id(commit: str) -> str:
    if not COMMIT.match(commit):
        raise ValueError(f"not a commit id: {commit!r}")
    return commit


class GitArchive:
    def __init__(self, repo_dir: Path) -> None:
        self.repo_dir = repo_dir
        self._lock = threading.Lock()  # one index, so one writer at a time
        repo_dir.mkdir(parents=True, exist_ok=True)
        if not (repo_dir / ".git").exists():
            self._git("init", "-q", "-b", "main")

    def _git(self, *args: str, when: datetime | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.repo_dir),
               "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull, "LC_ALL": "C",
               "GIT_AUTHOR_NAME": AUTHOR[0], "GIT_AUTHOR_EMAIL": AUTHOR[1],
               "GIT_COMMITTER_NAME": AUTHOR[0], "GIT_COMMITTER_EMAIL": AUTHOR[1]}
        if when is not None:
            env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = when.astimezone(UTC).isoformat()
        done = subprocess.run(["git", "-C", str(self.repo_dir), *args], capture_output=True, text=True, env=env,
                              check=False)
        if check and done.returncode != 0:
            raise ArchiveError(f"git {args[0]} failed ({done.returncode}): {done.stderr.strip()}")
        return done

    def store(self, device: str, text: str, when: datetime) -> str | None:
        """Write and commit the config; the new commit id, or None when nothing changed."""
        return self.store_many({device: text}, when)[device]

    def store_many(self, configs: Mapping[str, str], when: datetime) -> dict[str, str | None]:
        """Write the configs and commit those that changed, together: device -> the new commit id, or None when
        its config did not change. One commit for many devices because git's four processes per commit, not the
        configs, are what a backup cycle of thousands of devices spends its time on; each device's history
        (`versions`, `diff`) is still its own file's."""
        names = {device: config_file(device) for device in configs}
        if not names:
            return {}
        with self._lock:
            for device, text in configs.items():
                (self.repo_dir / names[device]).write_text(text)
            self._git("add", "--", *names.values())
            listed = self._git("diff", "--cached", "--name-only", "-z", "--", *names.values()).stdout
            changed_files = set(listed.split("\0")) - {""}
            changed = [device for device, name in names.items() if name in changed_files]
            if not changed:
                return dict.fromkeys(configs)
            stamp = when.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
            message = [f"{changed[0]}: configuration at {stamp}"] if len(changed) == 1 else \
                [f"{len(changed)} devices: configuration at {stamp}", "\n".join(changed)]
            self._git("commit", "-q", *(part for line in message for part in ("-m", line)), "--",
                      *sorted(changed_files), when=when)
            commit = self._git("rev-parse", "HEAD").stdout.strip()
            return {device: commit if device in changed else None for device in configs}

    def versions(self, device: str) -> list[Version]:
        """Newest first."""
        out = self._git("log", "--format=%H%x1f%at%x1f%s", "--", config_file(device)).stdout
        versions = []
        for line in out.splitlines():
            commit, epoch, message = line.split("\x1f", 2)
            versions.append(Version(commit, datetime.fromtimestamp(int(epoch), UTC), message))
        return versions

    def diff(self, device: str, a: str, b: str) -> str:
        return self._git("diff", "--no-color", _commit_id(a), _commit_id(b), "--", config_file(device)).stdout

    def show(self, device: str, commit: str) -> str:
        return self._git("show", f"{_commit_id(commit)}:{config_file(device)}").stdout

    def heads(self, devices: list[str]) -> dict[str, str]:
        """The newest archived configuration of each device that has one: the blob ids from one `git ls-tree` of
        HEAD, the blobs from one `git cat-file --batch`. (Asking cat-file for `HEAD:<device>.cfg` made git look the
        name up in the root tree once per device: 4.4 s for the city's 4,237 devices, against 0.25 s this way.)"""
        names = {config_file(d): d for d in devices}
        if not names or self._git("rev-parse", "--verify", "-q", "HEAD", check=False).returncode != 0:
            return {}
        wanted = [(blob, names[name]) for name, blob in self._blobs("HEAD").items() if name in names]
        if not wanted:
            return {}
        data = self._run_bytes(["cat-file", "--batch"], "".join(f"{blob}\n" for blob, _ in wanted).encode())
        found: dict[str, str] = {}
        at = 0
        for _, device in wanted:  # answers come in the order asked
            end = data.index(b"\n", at)
            header = data[at:end].split()
            at = end + 1
            if header[-1] == b"missing":
                continue
            size = int(header[2])
            found[device] = data[at:at + size].decode("utf-8", errors="replace")
            at += size + 1
        return found

    def _blobs(self, commit: str) -> dict[str, str]:
        """{file name: blob id} of the files at the top of `commit`'s tree (the archive keeps no folders)."""
        blobs: dict[str, str] = {}
        for entry in self._run_bytes(["ls-tree", "-z", commit], b"").split(b"\0"):
            if not entry:
                continue
            meta, _, name = entry.partition(b"\t")
            _mode, kind, blob = meta.split()
            if kind == b"blob":
                blobs[name.decode("utf-8", errors="surrogateescape")] = blob.decode()
        return blobs

    def _run_bytes(self, args: list[str], request: bytes) -> bytes:
        done = subprocess.run(["git", "-C", str(self.repo_dir), *args], input=request, capture_output=True,
                              check=False, env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                                                "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull,
                                                "LC_ALL": "C", "HOME": str(self.repo_dir)})
        if done.returncode != 0:
            raise ArchiveError(f"git {args[0]} failed ({done.returncode}): {done.stderr.decode(errors='replace')}")
        return done.stdout
