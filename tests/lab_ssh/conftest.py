from __future__ import annotations

from datetime import UTC, datetime

import pytest

from lab.city import CityPlan, DevicePlan, generate_city
from lab.ssh.config import initial_config
from lab.ssh.server import pick
from lab.ssh.state import Store

SEED = 2026
NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
PLATFORMS = ("huawei_vrp", "hp_comware", "ruijie_os", "cisco_ios")


@pytest.fixture(scope="session")
def small() -> CityPlan:
    return generate_city(SEED, "small")


def first_device(plan: CityPlan, platform: str) -> DevicePlan:
    return next(d for d in pick(plan.devices, [], 1) if d.platform == platform and d.address)


def fresh_store(device: DevicePlan) -> Store:
    config = initial_config(device)
    return Store(config, config, NOW, NOW)
