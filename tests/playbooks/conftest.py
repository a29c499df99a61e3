"""The collection run the way an engineer runs it: `ansible-playbook` (or ansible-runner) from playbooks/, with
the collection found through playbooks/ansible.cfg and the inventory written by `yiwang inventory ansible`."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from lab import lab_down, lab_up

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOKS = ROOT / "playbooks"
COLLECTION = PLAYBOOKS / "collections" / "ansible_collections" / "yiwang" / "extranet"
BIN = Path(sys.executable).parent


def ansible_tool(name: str) -> str:
    found = BIN / name
    if not found.exists():
        pytest.skip(f"{name} is not installed beside {sys.executable} (ansible-core is a test dependency)")
    return str(found)


def ansible_env(home: Path, **extra: str) -> dict[str, str]:
    """The controller's environment: this checkout importable (the plugins run yiwang in-process), Ansible's
    state in `home`, nothing else of the developer's."""
    python_path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    return {"PATH": f"{BIN}{os.pathsep}/usr/bin:/bin", "HOME": str(home), "PYTHONPATH": python_path,
            "ANSIBLE_CONFIG": str(PLAYBOOKS / "ansible.cfg"), "ANSIBLE_LOCAL_TEMP": str(home / "tmp"),
            "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0", **extra}


@dataclass(frozen=True)
class SmallLab:
    state: Path
    hosts: Path  # the Ansible inventory, as `yiwang inventory ansible` wrote it
    password: str  # the lab's SSH password: what must never show


@pytest.fixture(scope="session")
def small_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SmallLab]:
    state = tmp_path_factory.mktemp("playbooks-lab")
    lab_up(state, profile="small", seed=2026, port=random.randint(20000, 29999))
    try:
        config = state / "yiwang.yaml"
        config.write_text(yaml.safe_dump({"state_dir": str(state)}))
        hosts = state / "hosts.yaml"
        done = subprocess.run([sys.executable, "-m", "yiwang", "inventory", "ansible", "-c", str(config), "--out",
                               str(hosts)], capture_output=True, text=True, timeout=120,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert done.returncode == 0, done.stderr
        credentials = yaml.safe_load((state / "inventory" / "credentials.yaml").read_text())["credentials"]
        ssh = next(c for c in credentials if c["kind"] == "ssh")
        yield SmallLab(state, hosts, Path(ssh["password"]["file"]).read_text().strip())
    finally:
        lab_down(state)
        shutil.rmtree(state / "ssh", ignore_errors=True)
