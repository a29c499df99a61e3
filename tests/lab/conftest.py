from __future__ import annotations

import os
import random
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from lab import LabStatus, lab_down, lab_up
from lab.city import CityPlan, generate_city

SEED = 2026


@pytest.fixture(scope="session")
def city() -> CityPlan:
    return generate_city(SEED, "city")


@pytest.fixture(scope="session")
def small() -> CityPlan:
    return generate_city(SEED, "small")


@dataclass(frozen=True)
class RunningLab:
    status: LabStatus
    state_dir: Path
    port: int
    secret: str
    plan: CityPlan

    @property
    def community(self) -> str:
        """One community for every device: the responder tells them apart by address."""
        return self.secret


@pytest.fixture(scope="module")
def running_lab(tmp_path_factory: pytest.TempPathFactory, small: CityPlan) -> Iterator[RunningLab]:
    """The small lab, up for one test module, on a high port so a developer's lab on 161 is left alone."""
    if os.geteuid() != 0:
        pytest.skip("the lab binds 127.16.0.0/12 addresses and manages iptables: needs root")
    for tool in ("snmpget", "snmpbulkwalk"):
        if not shutil.which(tool):
            pytest.skip(f"net-snmp's {tool} is not installed")
    state_dir = tmp_path_factory.mktemp("labstate")
    # Below the kernel's ephemeral range (32768+), so no client socket can be holding it.
    port = random.randint(20000, 29999)
    status = lab_up(state_dir, "small", SEED, port=port)
    try:
        secret = (state_dir / "lab" / "community.secret").read_text().strip()
        yield RunningLab(status, state_dir, port, secret, small)
    finally:
        lab_down(state_dir)
