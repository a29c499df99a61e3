"""The simulated city's configurations against the 等保 rule pack: every device's rendered configuration, judged by
`yiwang.compliance.evaluate`, fails exactly the rules its hardening level says, and across the small lab every rule
is both passed and failed on every platform (RGOS's login-lockout is not checked: not-applicable)."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from datetime import date

import pytest

from lab.city import CityPlan, generate_city
from lab.hardening import CONFIG_RULES, LEVELS, MIX, county_of, hardening_of
from lab.ssh.cli import handle, login
from lab.ssh.config import initial_config, render
from lab.ssh.state import DeviceMemory
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


# What an engineer types on each platform to fix every rule, whichever way the device breaks it.
FIXES = {
    "huawei_vrp": [
        "system-view", "undo telnet server enable", "undo ftp server enable", "undo http server enable",
        "info-center loghost 127.16.0.20", "ntp-service unicast-server 127.16.0.30",
        f"undo snmp-agent community read {COMMUNITY}", "undo snmp-agent group v3 legacy-nms authentication",
        "snmp-agent target-host trap address udp-domain 127.16.0.50 params securityname yiwang-lab v3 privacy",
        "snmp-agent trap enable",
        "hwtacacs-server template yiwang-tac", "hwtacacs-server authentication 127.16.0.40",
        "hwtacacs-server shared-key cipher Tac-Key-2026", "quit",
        "aaa", "authentication-scheme default", "authentication-mode hwtacacs local", "quit",
        "local-aaa-user password policy administrator", "password expire 90", "quit",
        "local-aaa-user wrong-password retry-interval 5 retry-time 5 block-time 10",
        "domain default_admin", "hwtacacs-server yiwang-tac", "quit",
        "undo local-user admin", "undo local-user huawei",
        "local-user netops password irreversible-cipher N3w-Pass!w0rd", "quit",
        "user-interface con 0", "idle-timeout 5 0", "quit",
        *[line for head in ("user-interface vty 0 4", "user-interface vty 16 20")
          for line in (head, "protocol inbound ssh", "idle-timeout 5 0", "acl 2000 inbound", "quit")],
        "return"],
    "hp_comware": [
        "system-view", "undo telnet server enable", "undo ftp server enable", "undo ip http enable",
        "info-center loghost 127.16.0.20", "ntp-service unicast-server 127.16.0.30",
        "password-control enable", "password-control length 10", "password-control aging 90",
        "password-control login-attempt 3 exceed lock-time 10",
        f"undo snmp-agent community read {COMMUNITY}", "undo snmp-agent group v3 legacy-nms authentication",
        "snmp-agent target-host trap address udp-domain 127.16.0.50 params securityname yiwang-lab v3 privacy",
        "snmp-agent trap enable",
        "hwtacacs scheme yiwang-tac", "primary authentication 127.16.0.40",
        "key authentication cipher $c$3$VGFjLUtleS0yMDI2", "quit",
        "domain system", "authentication login hwtacacs-scheme yiwang-tac local", "quit",
        "undo local-user admin", "undo local-user h3c",
        "local-user netops class manage", "password simple N3w-Pass!w0rd", "quit",
        "line con 0", "idle-timeout 5 0", "quit",
        "line vty 0 63", "protocol inbound ssh", "idle-timeout 5 0", "acl 2000 inbound", "quit", "return"],
    "cisco_ios": [
        "enable", "configure terminal", "no ip http server", "ip http secure-server", "logging host 127.16.0.20",
        "ntp server 127.16.0.30", "security passwords min-length 10", "login block-for 300 attempts 5 within 120",
        "no username admin", "no username cisco", "no enable password", "enable secret N3w-Pass!w0rd",
        "username netops privilege 15 secret N3w-Pass!w0rd", "ip ssh version 2",
        f"no snmp-server community {COMMUNITY}", "no snmp-server group legacy-nms v3 auth",
        "snmp-server enable traps", "snmp-server host 127.16.0.50 version 3 priv yiwang-lab",
        "aaa new-model", "aaa authentication login default group tacacs+ local",
        "line con 0", "exec-timeout 5 0", "exit",
        *[line for head in ("line vty 0 4", "line vty 5 15")
          for line in (head, "transport input ssh", "exec-timeout 5 0", "access-class 10 in", "no password", "exit")],
        "end"],
    "ruijie_os": [
        "enable", "configure terminal", "no enable service web-server", "enable service web-server https",
        "no enable service telnet-server", "logging server 127.16.0.20", "ntp server 127.16.0.30",
        "password policy min-size 8", "password policy life-cycle 90", "no username admin", "no username ruijie",
        "username netops privilege 15 secret N3w-Pass!w0rd", "aaa new-model",
        "aaa authentication login default group tacacs+ local",
        f"no snmp-server community {COMMUNITY}", "no snmp-server group legacy-nms v3 auth",
        "snmp-server enable traps", "snmp-server host 127.16.0.50 traps version 3 priv yiwang-lab",
        "line con 0", "exec-timeout 5 0", "exit",
        *[line for head in ("line vty 0 4", "line vty 5 35")
          for line in (head, "transport input ssh", "exec-timeout 5 0", "access-class YIWANG-MGMT in", "exit")],
        "end"],
}
REFUSED = re.compile(r"Error:|% ?(Unrecognized|Wrong|Incomplete|Invalid)")


@pytest.mark.parametrize("platform", PLATFORMS)
def test_the_fixes_an_engineer_types_make_every_device_pass(small: CityPlan, pack: RulePack, platform: str) -> None:
    broken = [d for d in small.devices if d.platform == platform and d.hardening.broken]
    assert broken
    for device in broken:
        config = initial_config(device, COMMUNITY)
        state, _ = login(device, DeviceMemory(config, config, NOW, NOW), NOW)
        if state.pending:  # VRP asks at login whether to change the password
            state, _ = handle(state, "n", NOW)
        for line in FIXES[platform]:
            state, answer = handle(state, line, NOW)
            assert not REFUSED.search(answer), (device.name, line, answer)
        text = render(device, state.memory.running, NOW)
        report = evaluate(text, platform, pack, device=device.name, today=TODAY)
        assert {r.rule for r in report.results if r.status not in ("pass", "not-applicable")} == set(), \
            (device.name, [(r.rule, r.evidence) for r in report.results if r.status == "fail"])
