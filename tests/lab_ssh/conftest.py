from __future__ import annotations

from datetime import UTC, datetime

import pytest

from collectors.platforms import SSH_PLATFORMS
from lab.city import CityPlan, DevicePlan, generate_city
from lab.ssh.config import initial_config
from lab.ssh.server import pick
from lab.ssh.state import DeviceMemory

SEED = 2026
NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
PLATFORMS = SSH_PLATFORMS


@pytest.fixture(scope="session")
def small() -> CityPlan:
    return generate_city(SEED, "small")


def first_device(plan: CityPlan, platform: str) -> DevicePlan:
    return next(d for d in pick(plan.devices, [], 1) if d.platform == platform and d.address)


def fresh_memory(device: DevicePlan) -> DeviceMemory:
    config = initial_config(device)
    return DeviceMemory(config, config, NOW, NOW)
