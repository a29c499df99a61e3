"""`pip install .` without extras gives a working yiwang and no simulator: the lab's dependencies are an extra.

A real install into a fresh virtual environment (pip's cache makes the second and later runs quick), then the real
commands against a real snmpd."""

from __future__ import annotations

import os
import shutil
import subprocess
import venv
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from lab.snmpd import COMMUNITY, start_snmpd, stop_snmpd

ROOT = Path(__file__).resolve().parents[2]
LAB_ONLY = ("snmpsim", "pysmi", "asyncssh", "psutil")


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv with `pip install .` and nothing else; the source is copied so no build debris lands in the tree."""
    work = tmp_path_factory.mktemp("plain")
    source = work / "src"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".venv", ".git", "*.egg-info", "__pycache__",
                                                                 ".mypy_cache", ".ruff_cache", ".pytest_cache",
                                                                 "tests", "benchmarks"))
    env_dir = work / "venv"
    venv.create(env_dir, with_pip=True)
    done = subprocess.run([str(env_dir / "bin" / "pip"), "install", "-q", str(source)], capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return env_dir / "bin"


@pytest.fixture(scope="module")
def snmpd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    if not Path("/usr/sbin/snmpd").exists():
        pytest.skip("Debian's snmpd is not installed")
    proc, port = start_snmpd(tmp_path_factory.mktemp("snmpd"))
    try:
        yield port
    finally:
        stop_snmpd(proc)


def run(bin_dir: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run([str(bin_dir / "yiwang"), *args], capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=300)


def test_no_simulator_dependency_is_installed(plain: Path) -> None:
    for name in LAB_ONLY:
        shown = subprocess.run([str(plain / "pip"), "show", name], capture_output=True, text=True)
        assert shown.returncode != 0, f"{name} is installed without the lab extra"
    # and none of the project is imported from this checkout by accident
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    where = subprocess.run([str(plain / "python"), "-c", "import yiwang; print(yiwang.__file__)"],
                           capture_output=True, text=True, cwd="/", env=env)
    assert "site-packages" in where.stdout, where


def test_lab_without_its_extra_says_how_to_get_it(plain: Path, tmp_path: Path) -> None:
    done = run(plain, "lab", "up", "--profile", "city", cwd=tmp_path)
    assert done.returncode == 2
    assert "pip install 'yiwang[lab]'" in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert "yiwang[lab]" in run(plain, "--help", cwd=tmp_path).stdout


def test_inventory_check_and_poll_once_against_snmpd(plain: Path, snmpd: int, tmp_path: Path) -> None:
    (tmp_path / "community").write_text(COMMUNITY + "\n")
    inventory = tmp_path / "inventory"
    inventory.mkdir()
    (inventory / "net.yaml").write_text(yaml.safe_dump({
        "credentials": [{"name": "ro", "kind": "snmp_v2c", "community": {"file": str(tmp_path / "community")}}],
        "areas": [{"id": "hb", "name": "Hubei", "level": "province"},
                  {"id": "hb.hg", "name": "Huanggang", "level": "city", "parent": "hb"}],
        "devices": [{"name": name, "platform": "linux", "role": "server", "area": "hb.hg", **address,
                     "snmp": {"credential": "ro", "profiles": ["system", "if-mib", "host-resources"], "port": snmpd}}
                    for name, address in (("srv-v4", {"address": "127.0.0.1"}), ("srv-v6", {"address6": "::1"}))],
    }))
    (tmp_path / "yiwang.yaml").write_text(yaml.safe_dump({
        "state_dir": str(tmp_path / "state"), "inventory": ["inventory"], "poll": {"timeout_s": 2, "retries": 1}}))
    checked = run(plain, "inventory", "check", "-c", "yiwang.yaml", cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "devices 2" in checked.stdout and "inventory is valid" in checked.stdout
    polled = run(plain, "poll", "--once", "--json", "--collector", "snmp", "-c", "yiwang.yaml", cwd=tmp_path)
    assert polled.returncode == 0, polled.stdout + polled.stderr
    report = yaml.safe_load(polled.stdout)["snmp"]
    assert (report["devices"], report["ok"], report["failed"]) == (2, 2, 0), report
    assert report["varbinds"] > 20
