"""The simulated city's configurations against the 等保 rule pack: every device's rendered configuration, judged by
`yiwang.compliance.evaluate`, fails exactly the rules its hardening level says, and across the small lab every rule
is both passed and failed on every platform (RGOS's login-lockout is not checked: not-applicable)."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date

import pytest

from lab.city import CityPlan, generate_city
from lab.hardening import CONFIG_RULES, LEVELS, MIX, county_of, hardening_of
from lab.ssh.config import initial_config, render
from tests.lab_ssh.conftest import NOW, PLATFORMS, SEED
from yiwang.compliance.evaluate import evaluate
from yiwang.compliance.pack import RulePack, load_pack

COMMUNITY = "lab-community-4f2a"  # stands for the lab's secret, which `lab up` draws afresh
TODAY = date(2026, 11, 27)


@pytest.fixture(scope="module")
def pack() -> RulePack:
    return load_pack()


@pytest.fixture(scope="module")
def verdicts(small: CityPlan, pack: RulePack) -> dict[tuple[str, str], dict[str, str]]:
    """(device, platform) -> {rule: status} for every network device of the small lab."""
    found: dict[tuple[str, str], dict[str, str]] = {}
    for device in small.devices:
        if device.platform not in PLATFORMS:
            continue
        text = render(device, initial_config(device, COMMUNITY), NOW)
        report = evaluate(text, device.platform, pack, device=device.name, today=TODAY)
        found[(device.name, device.platform)] = {r.rule: r.status for r in report.results}
    return found


def test_every_rule_is_passed_and_failed_on_every_platform(verdicts: dict[tuple[str, str], dict[str, str]]) -> None:
    seen: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for (_, platform), results in verdicts.items():
        for rule, status in results.items():
            seen[(platform, rule)][status] += 1
    assert {platform for platform, _ in seen} == set(PLATFORMS)
    for platform in PLATFORMS:
        for rule in CONFIG_RULES:
            counts = seen[(platform, rule)]
            assert counts["error"] == 0, (platform, rule, counts)
            if platform == "ruijie_os" and rule == "login-lockout":
                assert set(counts) == {"not-applicable"}, counts
                continue
            assert counts["pass"] > 0 and counts["fail"] > 0, (platform, rule, counts)


def test_each_device_fails_exactly_the_rules_its_level_breaks(
        small: CityPlan, verdicts: dict[tuple[str, str], dict[str, str]]) -> None:
    for (name, _), results in verdicts.items():
        hardening = small.device(name).hardening
        for rule, status in results.items():
            if status == "not-applicable":
                continue
            assert status == ("fail" if hardening.breaks(rule) else "pass"), (name, hardening.level, rule, status)


def test_the_community_named_is_the_one_the_lab_answers(small: CityPlan) -> None:
    kept = 0
    for device in small.devices:
        if device.platform not in PLATFORMS:
            continue
        lines = render(device, initial_config(device, COMMUNITY), NOW).splitlines()
        communities = [line for line in lines if line.startswith(("snmp-agent community", "snmp-server community"))]
        assert all(line.split()[2 if "snmp-server" in line else 3] == COMMUNITY for line in communities), communities
        kept += bool(communities)
        # Without the lab's community (an SSH lab alone) no device names one, and the rule fails another way
        assert "community" not in render(device, initial_config(device), NOW)
    assert kept > 0


def test_levels_are_a_pure_function_of_seed_and_name(small: CityPlan) -> None:
    for device in small.devices[:50]:
        assert device.hardening == hardening_of(SEED, device.name, device.area)
    assert [hardening_of(SEED + 1, d.name, d.area) for d in small.devices] != [d.hardening for d in small.devices]


def test_each_county_has_its_documented_mix() -> None:
    city = generate_city(SEED, "city")
    levels: dict[str, Counter[str]] = defaultdict(Counter)
    for device in city.devices:
        if device.platform in PLATFORMS:
            levels[county_of(device.area)][device.hardening.level] += 1
    assert set(levels) == set(MIX)
    for county, counts in levels.items():
        total = sum(counts.values())
        if total < 200:  # the city's own three boxes: too few for shares
            continue
        for level, percent in zip(LEVELS, MIX[county], strict=True):
            assert abs(100 * counts[level] / total - percent) < 7, (county, level, counts)
    # A believable picture: the best-run county is mostly hardened, the worst mostly not
    share = {c: n["hardened"] / sum(n.values()) for c, n in levels.items() if c != "city"}
    assert max(share, key=share.__getitem__) == "tuanfeng" and min(share, key=share.__getitem__) == "macheng"
