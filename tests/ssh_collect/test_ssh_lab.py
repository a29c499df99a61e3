"""Real SSH on loopback against `python -m lab.ssh.server`: collector, config backup, faults, host keys."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from netmiko import ConnectHandler

from collectors.base import PollTarget
from collectors.platforms import SSH_PLATFORMS, cli_of
from collectors.ssh.collector import SshCollector, endpoint_of
from collectors.ssh.session import (
    Endpoint,
    SessionSettings,
    SshError,
    SshLogin,
    SshRunner,
    known_hosts_path,
    log_in,
    session,
)
from lab.city import CityPlan, generate_city
from lab.ssh.faults import Faults
from lab.ssh.process import RunningSSHLab, running_lab
from tests.lab_ssh.measure_netmiko import TUNED_CONNECT
from yiwang.archive.backup import backup
from yiwang.archive.fetch import ConfigFetcher
from yiwang.archive.git import GitArchive
from yiwang.polling import Concurrent
from yiwang.store import open_store

pytestmark = pytest.mark.integration
PLATFORMS = set(SSH_PLATFORMS)


@pytest.fixture(scope="module")
def plan() -> CityPlan:
    return generate_city(2026, "small")


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSSHLab]:
    with running_lab(tmp_path_factory.mktemp("sshlab"), ["--per-platform", "1"]) as running:
        yield running


@pytest.fixture
def clean_faults(lab: RunningSSHLab) -> Iterator[None]:
    yield
    lab.set_faults({})


def targets(lab: RunningSSHLab, plan: CityPlan, password: str | None = None) -> list[PollTarget]:
    login = SshLogin(lab.username, password or lab.password)
    return [PollTarget(name, addresses[0], (("device", name), ("platform", plan.device(name).platform)),
                       port=lab.port, credential=login) for name, addresses in lab.addresses.items()]


@pytest.fixture
def runner(tmp_path: Path) -> Iterator[SshRunner]:
    pool = SshRunner(SessionSettings(tmp_path / "state", read_timeout=4), max_workers=8)
    yield pool
    pool.close()


@pytest.fixture
def fetcher(runner: SshRunner) -> Concurrent:
    return Concurrent(ConfigFetcher(runner), 8)


def test_login_repr_hides_password() -> None:
    shown = repr(SshLogin("lab", "s3cret", "en4ble"))
    assert "s3cret" not in shown and "en4ble" not in shown and "lab" in shown


async def test_collector_every_platform_and_ipv6(lab: RunningSSHLab, plan: CityPlan, runner: SshRunner) -> None:
    polled = targets(lab, plan)
    results = await asyncio.gather(*(SshCollector(runner).poll(t) for t in polled))
    # every command of every platform reads: the lab prints what real devices print
    assert all(r.ok and r.reason == "ok" for r in results), [(r.device, r.reason, r.error) for r in results]
    assert {dict(t.tags)["platform"] for t in polled} == PLATFORMS
    v6 = next(r for r, t in zip(results, polled, strict=True) if t.host == "::1")
    assert dict(next(t for t in polled if t.host == "::1").tags)["platform"] == "huawei_vrp"
    for result in results:
        device = next(s for s in result.samples if s.measurement == "ssh_device")
        assert device.fields["uptime_seconds"] > 0 and device.fields["interfaces_up"] > 0
        assert any(s.measurement == "device_facts" and s.tag("serial") for s in result.samples)
    assert any(s.measurement == "transceiver" for s in v6.samples)


async def test_a_fact_that_does_not_read_costs_only_that_fact(lab: RunningSSHLab, plan: CityPlan,
                                                              runner: SshRunner) -> None:
    target = next(t for t in targets(lab, plan) if dict(t.tags)["platform"] == "hp_comware")
    lab.set_faults({target.device: Faults(mangle=("display version",))})
    result = await SshCollector(runner).poll(target)
    assert result.ok and result.reason == "partial"
    assert "display version" in result.error and "display interface brief" not in result.error
    device = next(s for s in result.samples if s.measurement == "ssh_device")
    assert device.fields["interfaces_up"] > 0 and "uptime_seconds" not in device.fields
    parsed = {s.tag("command"): s.fields["parsed"] for s in result.samples if s.measurement == "ssh_command"}
    assert parsed.pop("display version") == 0.0 and set(parsed.values()) == {1.0}
    facts = next(s for s in result.samples if s.measurement == "device_facts")
    assert facts.tag("serial") and not facts.tag("model")  # the serial has its own command on Comware


def push_description(lab: RunningSSHLab, plan: CityPlan, name: str, text: str) -> None:
    device = plan.device(name)
    cli = cli_of(device.platform)
    conn = ConnectHandler(device_type=cli.netmiko_type, host=lab.addresses[name][0], port=lab.port,
                          username=lab.username, password=lab.password, secret=lab.password, **TUNED_CONNECT)
    if cli.enable:
        conn.enable()
    conn.send_config_set([cli.config_enter, f"interface {device.interfaces[0].name}", f"description {text}",
                          cli.config_leave], enter_config_mode=False, exit_config_mode=False, read_timeout=10)
    conn.disconnect()


def changed_lines(diff: str) -> list[str]:
    return [line for line in diff.splitlines() if line[:1] in "+-" and not line.startswith(("+++", "---"))]


async def test_backup_change_diff_and_no_change(lab: RunningSSHLab, plan: CityPlan, fetcher: Concurrent,
                                                tmp_path: Path) -> None:
    archive, index = GitArchive(tmp_path / "repo"), open_store(f"sqlite:///{tmp_path / 'archive.db'}").archive
    polled = targets(lab, plan)
    first = await backup(polled, fetcher, archive, index)
    assert all(r.ok and r.commit for r in first), first
    name = next(t.device for t in polled if t.host == "::1")  # the IPv6-only Huawei device
    marker = f"changed by test {random.randint(1000, 9999)}"
    push_description(lab, plan, name, marker)
    second = {r.device: r for r in await backup(polled, fetcher, archive, index)}
    assert all(r.ok for r in second.values())
    assert [d for d, r in second.items() if r.commit] == [name]
    old, new = archive.versions(name)[1].commit, archive.versions(name)[0].commit
    diff = archive.diff(name, old, new)
    added = [line for line in changed_lines(diff) if line.startswith("+")]
    removed = [line for line in changed_lines(diff) if line.startswith("-")]
    assert added == [f"+ description {marker}"]
    assert all(line.startswith("- description ") for line in removed) and len(removed) <= 1
    assert "Last configuration" not in diff
    third = await backup(polled, fetcher, archive, index)
    assert all(r.ok and r.commit is None for r in third)
    assert len(archive.versions(name)) == 2
    assert [c for c, _ in index.versions(name)] == [new, old]


async def test_dropped_session_does_not_stop_the_cycle(lab: RunningSSHLab, plan: CityPlan, runner: SshRunner,
                                                       clean_faults: None) -> None:
    polled = targets(lab, plan)
    victim = polled[1].device
    lab.set_faults({victim: Faults(drop=True)})
    results = {r.device: r for r in await asyncio.gather(*(SshCollector(runner).poll(t) for t in polled))}
    assert (results[victim].ok, results[victim].reason) == (False, "dropped"), results[victim]
    assert victim in results[victim].error
    assert all(r.ok for d, r in results.items() if d != victim)


async def test_garbage_output_still_parses(lab: RunningSSHLab, plan: CityPlan, runner: SshRunner,
                                           clean_faults: None) -> None:
    polled = targets(lab, plan)
    clean = {r.device: r.samples for r in await asyncio.gather(*(SshCollector(runner).poll(t) for t in polled))}
    lab.set_faults({t.device: Faults(garbage=True) for t in polled})
    garbled = await asyncio.gather(*(SshCollector(runner).poll(t) for t in polled))
    for result in garbled:
        assert result.ok, (result.device, result.error)
        assert [(s.measurement, s.tags, s.fields) for s in result.samples if s.measurement != "ssh_device"] == \
            [(s.measurement, s.tags, s.fields) for s in clean[result.device] if s.measurement != "ssh_device"]


async def test_changed_host_key_is_refused_and_last_good_kept(lab: RunningSSHLab, plan: CityPlan,
                                                              runner: SshRunner, fetcher: Concurrent,
                                                              tmp_path: Path, clean_faults: None) -> None:
    archive, index = GitArchive(tmp_path / "repo"), open_store(f"sqlite:///{tmp_path / 'archive.db'}").archive
    polled = targets(lab, plan)
    victim = polled[2].device
    assert all(r.ok for r in await backup(polled, fetcher, archive, index))
    good = index.status()[victim]
    lab.set_faults({victim: Faults(key_generation=1)})
    results = {r.device: r for r in await backup(polled, fetcher, archive, index)}
    assert (results[victim].ok, results[victim].reason) == (False, "hostkey-changed")
    assert "host key changed" in results[victim].error and "SHA256:" in results[victim].error
    assert all(r.ok for d, r in results.items() if d != victim)
    status = index.status()[victim]
    assert (status.last_ok_at, status.last_commit) == (good.last_ok_at, good.last_commit)
    assert status.last_reason == "hostkey-changed"
    assert len(archive.versions(victim)) == 1
    polled_again = await SshCollector(runner).poll(next(t for t in polled if t.device == victim))
    assert polled_again.reason == "hostkey-changed"  # still refused: the pin is not replaced silently


async def test_auth_failure(lab: RunningSSHLab, plan: CityPlan, runner: SshRunner, clean_faults: None) -> None:
    polled = targets(lab, plan)
    lab.set_faults({polled[0].device: Faults(auth_fail=True)})
    result = await SshCollector(runner).poll(polled[0])
    assert (result.ok, result.reason) == (False, "auth")
    assert lab.password not in result.error
    wrong = await SshCollector(runner).poll(targets(lab, plan, password="wrong")[3])
    assert wrong.reason == "auth"


async def test_unreachable(runner: SshRunner) -> None:
    target = PollTarget("nobody", "127.0.0.1", (("device", "nobody"), ("platform", "cisco_ios")), port=1,
                        credential=SshLogin("lab", "x"))
    result = await SshCollector(runner).poll(target)
    assert (result.ok, result.reason) == (False, "unreachable")


async def test_invalid_targets_are_results_not_exceptions(runner: SshRunner) -> None:
    bad = [PollTarget("../x", "127.0.0.1", (("platform", "cisco_ios"),), credential=SshLogin("a", "b")),
           PollTarget("r1", "127.0.0.1", (("platform", "junos"),), credential=SshLogin("a", "b")),
           PollTarget("r2", "127.0.0.1", (("platform", "cisco_ios"),))]
    results = [await SshCollector(runner).poll(t) for t in bad]
    assert [r.reason for r in results] == ["invalid-target"] * 3


def test_a_login_alone_tells_in_from_refused(lab: RunningSSHLab, plan: CityPlan, tmp_path: Path,
                                            clean_faults: None) -> None:
    """`log_in` (the change's check that the device still lets yiwang in) on the pinned key, as `session` does."""
    settings = SessionSettings(tmp_path / "state", conn_timeout=5, read_timeout=4)
    first, second = (endpoint_of(t) for t in targets(lab, plan)[:2])
    with pytest.raises(SshError) as unpinned:  # never pins: a key it has not seen is refused
        log_in(first, settings)
    assert unpinned.value.reason == "hostkey-unknown"
    with session(first, settings):  # pins the key
        pass
    log_in(first, settings)
    with pytest.raises(SshError) as wrong:
        log_in(next(endpoint_of(t) for t in targets(lab, plan, password="wrong")[:1]), settings)
    assert wrong.value.reason == "auth" and "wrong" not in str(wrong.value)
    lab.set_faults({first.device: Faults(key_generation=1)})
    with pytest.raises(SshError) as changed:
        log_in(first, settings)
    assert changed.value.reason == "hostkey-changed" and "SHA256:" in str(changed.value)
    closed = Endpoint("nobody", "cisco_ios", "127.0.0.1", 1, SshLogin("lab", "x"))
    with pytest.raises(SshError) as refused:
        log_in(closed, settings, known_hosts_path(settings.state_dir, first.device))
    assert refused.value.reason == "unreachable"
    with session(second, settings):
        log_in(second, settings)  # a second login while a session is open (the change's case)
