"""ipv6_dualstack.yml and bandwidth.yml end to end against the small lab's SSH devices: one village router of each
platform and its township end, planned with `yiwang change plan-ipv6`, run with `ansible-playbook` as the job
runner runs a wave; each host's last task, `yiwang outcome`, read back through the builtin `tree` callback."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from collectors.platforms import SSH_PLATFORMS, cli_of
from collectors.ssh.session import SessionSettings, fetch, session
from inventory.loader import load_inventory
from inventory.model import Inventory, Link
from lab import lab_clear, lab_fault
from tests.playbooks.conftest import PLAYBOOKS, ROOT, SmallLab, ansible_env, ansible_tool
from tests.playbooks.test_e2e import hostvars_of, without_stamps
from yiwang.archive.normalize import normalize
from yiwang.change.bandwidth import devices_of, host_vars, read_bandwidth_plan, write_rates
from yiwang.push.access import access_of
from yiwang.push.device import Device
from yiwang.push.plan import typed, way_back

pytestmark = pytest.mark.integration

MGMT6 = "2001:db8:ffff::/48"


@dataclass(frozen=True)
class Run:
    returncode: int
    stdout: str
    outcomes: dict[str, dict[str, Any]]

    def changed(self) -> dict[str, int]:
        found = {}
        for line in self.stdout.splitlines():
            if "ok=" in line and "changed=" in line and " : " in line:
                name, _, counts = line.partition(" : ")
                found[name.strip()] = int(counts.split("changed=")[1].split()[0])
        return found


class Rollout:
    def __init__(self, small: SmallLab, work: Path) -> None:
        self.small, self.work = small, work
        config = small.state / "yiwang.yaml"
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        planned = subprocess.run([sys.executable, "-m", "yiwang", "change", "plan-ipv6", "-c", str(config),
                                  "--prefix", "2001:db8:100::/40"], capture_output=True, text=True, timeout=120,
                                 env=env)
        assert planned.returncode == 0, planned.stderr
        self.hosts = work / "inventory" / "hosts.yaml"
        self.hosts.parent.mkdir(parents=True)
        done = subprocess.run([sys.executable, "-m", "yiwang", "inventory", "ansible", "-c", str(config), "--out",
                               str(self.hosts)], capture_output=True, text=True, timeout=120, env=env)
        assert done.returncode == 0, done.stderr
        self.hostvars = hostvars_of(self.hosts)
        villages = sorted(n for n, v in self.hostvars.items() if v.get("yiwang_role") == "village-access"
                          and "yiwang_ipv6" in v)
        by_platform = {p: [n for n in villages if self.hostvars[n]["yiwang_platform"] == p] for p in SSH_PLATFORMS}
        # The first of each platform is dual-stacked; the next ones are kept for the faults.
        self.villages = [names[0] for names in by_platform.values()]
        self.spare = {p: names[1:] for p, names in by_platform.items()}
        self.townships = sorted({self.hostvars[n]["yiwang_ipv6"]["parent_device"] for n in self.villages})
        host_vars = self.hosts.parent / "host_vars"
        host_vars.mkdir()
        for name in self.townships:  # their county end is not dual-stacked in this test: no ping upwards
            (host_vars / f"{name}.yaml").write_text(yaml.safe_dump({"yiwang_ping_parent": False}))

    def playbook(self, playbook: str, hosts: list[str], *args: str) -> Run:
        tree = self.work / f"tree-{random.randint(10**5, 10**6)}"
        done = subprocess.run([ansible_tool("ansible-playbook"), "-i", str(self.hosts), playbook, "--limit",
                               ",".join(hosts), "-e", f"yiwang_mgmt_prefix6={MGMT6}", *args],
                              capture_output=True, text=True, timeout=600, cwd=PLAYBOOKS,
                              env=ansible_env(self.work, ANSIBLE_CALLBACKS_ENABLED="ansible.builtin.tree",
                                              ANSIBLE_CALLBACK_TREE_DIR=str(tree)))
        outcomes = {p.name: json.loads(p.read_text()).get("msg", {}) for p in tree.glob("*")} if tree.exists() \
            else {}
        return Run(done.returncode, done.stdout, outcomes)

    def configure(self, name: str, lines: list[str]) -> None:
        """Type `lines` on a device as an engineer would, through the collection's config module."""
        done = subprocess.run([ansible_tool("ansible"), "-i", str(self.hosts), name, "-m", "yiwang.extranet.config",
                               "-a", json.dumps({"lines": lines})], capture_output=True, text=True, timeout=120,
                              cwd=PLAYBOOKS, env=ansible_env(self.work))
        assert done.returncode == 0, done.stdout[-2000:]

    def show(self, name: str, command: str) -> str:
        access = access_of(name, self.hostvars[name])
        (text,) = fetch(access.endpoint, [command], SessionSettings(self.work / "ssh", read_timeout=30))
        return normalize(access.endpoint.platform, text)

    def running(self, name: str) -> str:
        return self.show(name, cli_of(self.hostvars[name]["yiwang_platform"]).config_command)

    def put_back(self, name: str, before: str) -> None:
        platform = self.hostvars[name]["yiwang_platform"]
        back = way_back(platform, self.running(name), before)
        access = access_of(name, self.hostvars[name])
        with session(access.endpoint, SessionSettings(self.work / "ssh", read_timeout=30)) as conn:
            Device(conn, platform, 30).type_lines(typed(platform, back))


def township_with_villages(inv: Inventory, taken: set[str]) -> tuple[str, tuple[Link, Link]]:
    """A township router with two village links of different families (VRP-like and IOS-like when it has both),
    whose villages no other test here uses."""
    for device in sorted(inv.devices.values(), key=lambda d: d.name):
        down = [link for link in inv.links if link.remote.device == device.name
                and inv.devices[link.local.device].role == "village-access" and link.local.device not in taken]
        if device.role != "township-switch" or len(down) < 2:
            continue
        vrp_like = [link for link in down if inv.devices[link.local.device].platform in ("huawei_vrp", "hp_comware")]
        ios_like = [link for link in down if link not in vrp_like]
        return device.name, (vrp_like[0], ios_like[0]) if vrp_like and ios_like else (down[0], down[1])
    raise AssertionError("no township router with two village links")


@pytest.fixture(scope="module")
def rollout(small_lab: SmallLab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rollout]:
    yield Rollout(small_lab, tmp_path_factory.mktemp("rollout"))
    lab_clear(small_lab.state)


def test_the_playbooks_pass_the_syntax_check(tmp_path: Path) -> None:
    for playbook in ("ipv6_dualstack.yml", "bandwidth.yml", "rollback.yml"):
        done = subprocess.run([ansible_tool("ansible-playbook"), "--syntax-check", "-i", "localhost,", playbook],
                              capture_output=True, text=True, timeout=120, cwd=PLAYBOOKS, env=ansible_env(tmp_path))
        assert done.returncode == 0, done.stdout + done.stderr


def test_dual_stack_check_mode_changes_nothing(rollout: Rollout) -> None:
    hosts = rollout.villages + rollout.townships
    before = {name: rollout.running(name) for name in hosts}
    done = rollout.playbook("ipv6_dualstack.yml", hosts, "--check")
    assert done.returncode == 0, done.stdout[-3000:]
    for name in hosts:
        assert done.outcomes[name]["outcome"] == "ok", done.outcomes[name]
        assert done.outcomes[name]["commands"], done.outcomes[name]
        assert without_stamps(rollout.running(name)) == without_stamps(before[name])


def test_dual_stack_applies_pings_the_parent_and_runs_again_unchanged(rollout: Rollout) -> None:
    hosts = rollout.villages + rollout.townships
    # the villages ping their township's end, so the townships go first (as the job's tiers do)
    upper = rollout.playbook("ipv6_dualstack.yml", rollout.townships)
    assert upper.returncode == 0, upper.stdout[-3000:]
    done = rollout.playbook("ipv6_dualstack.yml", rollout.villages)
    assert done.returncode == 0, done.stdout[-3000:]
    outcomes = {**upper.outcomes, **done.outcomes}
    assert {n: o["outcome"] for n, o in outcomes.items()} == dict.fromkeys(hosts, "ok"), outcomes
    for name in rollout.villages:
        planned = rollout.hostvars[name]["yiwang_ipv6"]
        ping = rollout.show(name, f"ping ipv6 {planned['parent_address']}")
        assert any(word in ping for word in ("Reply from", "bytes from", "Success rate is 100")), ping
        outcome = done.outcomes[name]
        assert all(rollout.small.password not in line for line in outcome["commands"] + outcome["rollback"])
        assert not any("community" in line and "<hidden>" not in line for line in outcome["commands"]
                       + outcome["rollback"] if "snmp" in line)
    again = rollout.playbook("ipv6_dualstack.yml", hosts)
    assert again.returncode == 0, again.stdout[-3000:]
    assert again.changed() == dict.fromkeys(hosts, 0)
    assert {n: o["outcome"] for n, o in again.outcomes.items()} == dict.fromkeys(hosts, "ok")


def test_a_refused_line_is_rolled_back_and_the_others_go_on(rollout: Rollout) -> None:
    faulty, fine = rollout.spare["huawei_vrp"][0], rollout.spare["cisco_ios"][0] if rollout.spare["cisco_ios"] \
        else rollout.spare["ruijie_os"][0]
    before = rollout.running(faulty)
    fault = lab_fault(rollout.small.state, "reject-line", faulty, match="ipv6 route-static")
    try:
        done = rollout.playbook("ipv6_dualstack.yml", [faulty, fine], "-e", "yiwang_ping_parent=false")
    finally:
        lab_clear(rollout.small.state, fault.id)
    assert done.outcomes[faulty]["outcome"] == "rolled-back", done.outcomes[faulty]
    assert "ipv6 route-static" in done.outcomes[faulty]["detail"]
    assert without_stamps(rollout.running(faulty)) == without_stamps(before)
    assert done.outcomes[fine]["outcome"] == "ok", done.outcomes[fine]["detail"]


def test_a_session_dropped_mid_change_is_rolled_back_from_a_new_one(rollout: Rollout) -> None:
    dropped = rollout.spare["ruijie_os"][0]
    before = rollout.running(dropped)
    fault = lab_fault(rollout.small.state, "drop-mid-change", dropped, after=4)
    try:
        done = rollout.playbook("ipv6_dualstack.yml", [dropped], "-e", "yiwang_ping_parent=false")
    finally:
        lab_clear(rollout.small.state, fault.id)
    outcome = done.outcomes[dropped]
    assert outcome["outcome"] == "rolled-back", outcome
    assert "the session dropped after 3 of " in outcome["detail"], outcome
    assert "rolled back through a new session" in outcome["detail"], outcome
    assert outcome["rollback"]
    assert without_stamps(rollout.running(dropped)) == without_stamps(before)


def test_a_device_that_loses_management_is_rolled_back_through_the_session_opened_before(rollout: Rollout) -> None:
    """The config module keeps a second session open while it types; no new session opens after the change, so
    the change is undone through the one opened before, and the device answers again (the fault still standing:
    the configuration that cut it off is gone)."""
    lost = rollout.spare["hp_comware"][0]
    before = rollout.running(lost)
    fault = lab_fault(rollout.small.state, "lose-management", lost)
    try:
        done = rollout.playbook("ipv6_dualstack.yml", [lost], "-e", "yiwang_ping_parent=false",
                                "-e", "yiwang_connect_timeout=5")
        assert done.outcomes[lost]["outcome"] == "rolled-back", done.outcomes[lost]
        now = rollout.running(lost)  # a new session, while the fault stands
    finally:
        lab_clear(rollout.small.state, fault.id)
    detail = done.outcomes[lost]["detail"]
    assert "management lost after the change" in detail and "through the session opened before" in detail
    assert done.outcomes[lost]["rollback"]
    assert without_stamps(now) == without_stamps(before)


def test_a_session_dropped_on_a_device_cut_off_is_rolled_back_through_the_session_opened_before(
        rollout: Rollout) -> None:
    """The change cuts the management address and then the typing session drops: no new session opens, the one
    opened before the change is the only way back."""
    cut = rollout.spare["ruijie_os"][1]
    before = rollout.running(cut)
    faults = [lab_fault(rollout.small.state, "lose-management", cut),
              lab_fault(rollout.small.state, "drop-mid-change", cut, after=4)]
    try:
        done = rollout.playbook("ipv6_dualstack.yml", [cut], "-e", "yiwang_ping_parent=false",
                                "-e", "yiwang_connect_timeout=5")
        now = rollout.running(cut)
    finally:
        for fault in faults:
            lab_clear(rollout.small.state, fault.id)
    outcome = done.outcomes[cut]
    assert outcome["outcome"] == "rolled-back", outcome
    assert "the session dropped after" in outcome["detail"], outcome
    assert "rolled back through the session opened before" in outcome["detail"], outcome
    assert without_stamps(now) == without_stamps(before)


def test_a_device_cut_off_with_its_open_sessions_is_left_for_a_person(rollout: Rollout) -> None:
    """The change takes the management interface down: the sessions already open go with it, nobody can put it
    back from here."""
    lost = rollout.spare["huawei_vrp"][1]
    before = rollout.running(lost)
    fault = lab_fault(rollout.small.state, "lose-management", lost, cut_open=True)
    try:
        done = rollout.playbook("ipv6_dualstack.yml", [lost], "-e", "yiwang_ping_parent=false",
                                "-e", "yiwang_connect_timeout=5")
    finally:
        lab_clear(rollout.small.state, fault.id)
    assert done.outcomes[lost]["outcome"] == "needs-person", done.outcomes[lost]
    assert "ROLLBACK FAILED" in done.outcomes[lost]["detail"]
    assert done.outcomes[lost]["commands"]
    assert without_stamps(rollout.running(lost)) != without_stamps(before)  # as the person will find it
    rollout.put_back(lost, before)  # the person, once the address answers again (the later tests want it as it was)
    assert without_stamps(rollout.running(lost)) == without_stamps(before)


def interface_section(running: str, interface: str) -> list[str]:
    """The body lines of one interface in a running configuration (VRP/Comware end a section with `#`, IOS and
    RGOS with `!`)."""
    lines = running.splitlines()
    start = lines.index(f"interface {interface}") + 1
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith(" ")), len(lines))
    return [line.strip() for line in lines[start:end]]


def test_a_bandwidth_plan_sets_both_ends_and_runs_again_unchanged(rollout: Rollout, tmp_path: Path) -> None:
    """Two village links of one township router, from a CSV plan naming one by its village alone and the other by
    both ends: the villages and the township (the upper end of both) get the rate on each interface, as host
    variables of the run's own inventory file; then the rates are written into a copy of the lab's inventory."""
    inventory_dir = rollout.small.state / "inventory"
    inv = load_inventory([inventory_dir]).inventory
    taken = set(rollout.villages) | {names[0] for names in rollout.spare.values() if names}
    township, (first, second) = township_with_villages(inv, taken)
    plan = tmp_path / "plan.csv"
    plan.write_text(f"link,mbps\n{first.local.device},150\n{second.remote}--{second.local},250\n")
    changes = read_bandwidth_plan(plan, inv)
    hosts = devices_of(changes)
    assert sorted(hosts) == sorted({township, first.local.device, second.local.device})
    job_vars = tmp_path / "bandwidth-hosts.yaml"
    job_vars.write_text(yaml.safe_dump({"all": {"hosts": host_vars(changes)}}))

    done = rollout.playbook("bandwidth.yml", hosts, "-i", str(job_vars))
    assert done.returncode == 0, done.stdout[-3000:]
    assert {n: o["outcome"] for n, o in done.outcomes.items()} == dict.fromkeys(hosts, "ok"), done.outcomes
    for link, mbps in ((first, 150), (second, 250)):
        for end in (link.local, link.remote):
            section = interface_section(rollout.running(end.device), end.interface)
            vrp_like = rollout.hostvars[end.device]["yiwang_platform"] in ("huawei_vrp", "hp_comware")
            wanted = f"qos lr outbound cir {mbps * 1000}" if vrp_like else f"rate-limit output {mbps * 10**6} "
            assert any(line.startswith(wanted) for line in section), (end, section)
    assert len(done.outcomes[township]["commands"]) > len(done.outcomes[first.local.device]["commands"])

    again = rollout.playbook("bandwidth.yml", hosts, "-i", str(job_vars))
    assert again.changed() == dict.fromkeys(hosts, 0), again.stdout[-3000:]
    assert {n: o["outcome"] for n, o in again.outcomes.items()} == dict.fromkeys(hosts, "ok")

    copy = tmp_path / "inventory"
    shutil.copytree(inventory_dir, copy)
    ok = [name for name, outcome in done.outcomes.items() if outcome["outcome"] == "ok"]
    assert write_rates(changes, ok, [copy]) == [copy / "links.yaml"]
    rates = {link.local: link.bandwidth_mbps for link in load_inventory([copy]).inventory.links}
    assert (rates[first.local], rates[second.local]) == (150, 250)


def test_a_bandwidth_plan_on_a_downlink_that_is_down_is_not_pushed(rollout: Rollout, tmp_path: Path) -> None:
    """The pre-check wants every interface the plan sets up, not only the device's uplink: a township router whose
    link to one village is shut is left alone, with that interface named."""
    inv = load_inventory([rollout.small.state / "inventory"]).inventory
    taken = set(rollout.villages) | {names[0] for names in rollout.spare.values() if names}
    township, (first, _) = township_with_villages(inv, taken)
    platform = rollout.hostvars[township]["yiwang_platform"]
    shut = first.remote.interface
    plan = tmp_path / "plan.yaml"
    plan.write_text(f"- {{link: '{first.local}--{first.remote}', mbps: 80}}\n")
    job_vars = tmp_path / "bandwidth-hosts.yaml"
    job_vars.write_text(yaml.safe_dump({"all": {"hosts": host_vars(read_bandwidth_plan(plan, inv))}}))
    before = rollout.running(township)
    rollout.configure(township, [f"interface {shut}", " shutdown"])
    try:
        done = rollout.playbook("bandwidth.yml", [township], "-i", str(job_vars))
    finally:
        rollout.configure(township, [f"interface {shut}", f" {cli_of(platform).negation} shutdown"])
    assert done.outcomes[township]["outcome"] == "precheck-failed", done.outcomes[township]
    assert done.outcomes[township]["detail"] == f"not up: {shut}"
    assert without_stamps(rollout.running(township)) == without_stamps(before)
