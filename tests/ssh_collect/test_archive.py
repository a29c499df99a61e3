"""GitArchive, the SQL index and a backup cycle without a network."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest

from collectors.base import PollResult, PollTarget
from collectors.ssh.session import SshError
from yiwang.archive.backup import age_samples, backup
from yiwang.archive.fetch import FetchedConfig, check_complete
from yiwang.archive.git import GitArchive
from yiwang.archive.index import ArchiveIndex
from yiwang.store import open_store

T1 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
T2 = datetime(2026, 11, 27, 11, 0, tzinfo=UTC)


def test_one_commit_per_real_change(tmp_path: Path) -> None:
    archive = GitArchive(tmp_path / "repo")
    first = archive.store("r1", "hostname r1\nend\n", T1)
    assert first is not None
    assert archive.store("r1", "hostname r1\nend\n", T2) is None
    second = archive.store("r1", "hostname r1\nntp server 1.1.1.1\nend\n", T2)
    assert second is not None
    versions = archive.versions("r1")
    assert [v.commit for v in versions] == [second, first]
    assert versions[0].time == T2 and "r1" in versions[0].message and "2026-11-27 11:00:00" in versions[0].message
    changed = [line for line in archive.diff("r1", first, second).splitlines()
               if line[:1] in "+-" and not line.startswith(("+++", "---"))]
    assert changed == ["+ntp server 1.1.1.1"]
    assert archive.show("r1", first) == "hostname r1\nend\n"


def test_author_is_yiwang(tmp_path: Path) -> None:
    import subprocess

    archive = GitArchive(tmp_path / "repo")
    archive.store("r1", "x\n", T1)
    author = subprocess.run(["git", "-C", str(tmp_path / "repo"), "log", "-1", "--format=%an"],
                            capture_output=True, text=True, check=True).stdout.strip()
    assert author == "yiwang"


@pytest.mark.parametrize("name", ["../etc/passwd", "a b", "", "..", "x;rm -rf /", "-rf"])
def test_unsafe_device_names_are_refused(tmp_path: Path, name: str) -> None:
    archive = GitArchive(tmp_path / "repo")
    if name == "-rf":  # matches the pattern; harmless because it is only ever used after "--" or in "<rev>:<path>"
        archive.store(name, "x\n", T1)
        return
    with pytest.raises(ValueError):
        archive.store(name, "x\n", T1)


@pytest.fixture
def index(database_url: str) -> Iterator[ArchiveIndex]:
    """The index in the store on SQLite and on PostgreSQL (shared by cores on several machines)."""
    store = open_store(database_url)
    yield store.archive
    store.close()


def test_failure_never_overwrites_last_good(index: ArchiveIndex) -> None:
    index.record_ok("r1", 100.0, "abc123")
    index.record_ok("r1", 200.0, None)
    index.record_failure("r1", 300.0, "dropped", "r1: session closed")
    status = index.status()["r1"]
    assert (status.last_ok_at, status.last_attempt_at, status.last_reason) == (200.0, 300.0, "dropped")
    assert status.last_commit == "abc123" and status.last_error == "r1: session closed"
    assert index.versions("r1") == [("abc123", 100.0)]
    index.record_failure("r2", 300.0, "auth", "denied")
    assert index.status()["r2"].last_ok_at is None


def test_age_samples(index: ArchiveIndex) -> None:
    index.record_ok("r1", 100.0, "abc")
    index.record_failure("r2", 100.0, "auth", "denied")
    targets = [PollTarget(n, "h", (("device", n), ("district", "huangzhou"))) for n in ("r1", "r2", "r3")]
    samples = {s.tag("device"): s for s in age_samples(targets, index.status(), 160.0)}
    assert samples["r1"].fields == {"ok": 1.0, "age_seconds": 60.0}
    assert samples["r2"].fields == {"ok": 0.0} and samples["r3"].fields == {"ok": 0.0}
    assert samples["r1"].measurement == "backup" and samples["r1"].tag("district") == "huangzhou"


class Fetched:
    """A fetcher that hands back what it was given, in reverse order (as results arrive out of order)."""

    name = "config"

    def __init__(self, results: list[PollResult]) -> None:
        self.results = results

    async def collect(self, targets: Sequence[PollTarget]) -> AsyncIterator[PollResult]:
        for result in reversed(self.results):
            yield result

    async def close(self) -> None:
        return None


async def test_backup_commits_what_was_fetched_and_records_the_rest(tmp_path: Path) -> None:
    archive, index = GitArchive(tmp_path / "repo"), open_store(f"sqlite:///{tmp_path / 'a.db'}").archive
    targets = [PollTarget(n, "h", (("device", n),)) for n in ("r1", "r2", "r3")]
    fetcher = Fetched([FetchedConfig("r1", "config", [], True, text="hostname r1\nend\n"),
                       PollResult("r2", "config", [], False, "worker-died", "r2: config worker 0 died"),
                       PollResult("r3", "config", [], True)])
    results = await backup(targets, fetcher, archive, index, clock=lambda: T1)
    assert [r.device for r in results] == ["r1", "r2", "r3"]  # the targets' order, whatever the arrival order
    assert results[0].ok and results[0].commit == archive.versions("r1")[0].commit
    assert (results[1].ok, results[1].reason, results[1].error) == (False, "worker-died", "r2: config worker 0 died")
    assert (results[2].ok, results[2].reason) == (False, "internal")
    status = index.status()
    assert status["r2"].last_reason == "worker-died" and status["r2"].last_attempt_at == T1.timestamp()
    assert archive.show("r1", results[0].commit or "") == "hostname r1\nend\n"


def test_a_cut_off_config_is_refused() -> None:
    check_complete("cisco_ios", "hostname r1\n!\nend\n")
    check_complete("huawei_vrp", "sysname r1\n#\nreturn\n\n")
    with pytest.raises(SshError) as cut:
        check_complete("huawei_vrp", "sysname r1\n#\ninterface GigabitEthernet0/0/1\n")
    assert cut.value.reason == "parse" and "'return'" in str(cut.value)


def test_heads_read_the_newest_version_of_each_device(tmp_path: Path) -> None:
    import subprocess

    archive = GitArchive(tmp_path / "repo")
    assert archive.heads(["r1"]) == {}  # no commit yet
    archive.store("r1", "hostname r1\nend\n", T1)
    archive.store("sw-2.a_b", "sysname sw\n\u4e00\u7f51\nreturn\n", T1)
    archive.store("r1", "hostname r1\nntp server 1.1.1.1\nend\n", T2)
    archive.store("r3", "", T2)  # an empty file is a head too (the rule says it is unreadable, not missing)
    # files the archive never writes: a folder of the same name and a file that is not a device's
    (tmp_path / "repo" / "r4.cfg").mkdir()
    (tmp_path / "repo" / "r4.cfg" / "inner").write_text("x\n")
    (tmp_path / "repo" / "notes.txt").write_text("hello\n")
    subprocess.run(["git", "-C", str(tmp_path / "repo"), "add", "."], check=True, capture_output=True)
    subprocess.run(["git", "-C", str(tmp_path / "repo"), "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm",
                    "other"], check=True, capture_output=True)
    found = archive.heads(["r1", "sw-2.a_b", "r3", "r4", "notes", "never", "r1"])
    assert found == {"r1": "hostname r1\nntp server 1.1.1.1\nend\n", "sw-2.a_b": "sysname sw\n\u4e00\u7f51\nreturn\n",
                     "r3": ""}
    head = archive.versions("r1")[0].commit
    assert found["r1"] == archive.show("r1", head)
    assert archive.heads([]) == {}
    with pytest.raises(ValueError):
        archive.heads(["../r1"])


def test_many_configs_in_one_commit_keep_each_devices_history(tmp_path: Path) -> None:
    import subprocess

    archive = GitArchive(tmp_path / "repo")
    assert archive.store_many({}, T1) == {}
    first = archive.store_many({"r1": "hostname r1\nend\n", "r2": "hostname r2\nend\n"}, T1)
    assert first["r1"] is not None and first["r1"] == first["r2"]
    again = archive.store_many({"r1": "hostname r1\nend\n", "r2": "hostname r2\nntp server 1.1.1.1\nend\n",
                                "r3": "hostname r3\nend\n"}, T2)
    assert again["r1"] is None and again["r2"] is not None and again["r2"] == again["r3"]
    assert [v.commit for v in archive.versions("r1")] == [first["r1"]]
    assert [v.commit for v in archive.versions("r2")] == [again["r2"], first["r2"]]
    assert archive.versions("r2")[0].message == "2 devices: configuration at 2026-11-27 11:00:00 UTC"
    body = subprocess.run(["git", "-C", str(tmp_path / "repo"), "log", "-1", "--format=%b"], capture_output=True,
                          text=True, check=True).stdout.split()
    assert body == ["r2", "r3"]  # the devices changed, named in the commit
    assert archive.store_many({"r1": "hostname r1\nend\n", "r3": "hostname r3\nend\n"}, T2) == \
        {"r1": None, "r3": None}
    assert archive.diff("r2", first["r2"] or "", again["r2"] or "").count("+ntp server 1.1.1.1") == 1


class Slow(Fetched):
    """Hands its results back in order, each after the event loop had a turn (a commit runs meanwhile)."""

    async def collect(self, targets: Sequence[PollTarget]) -> AsyncIterator[PollResult]:
        import asyncio

        for result in self.results:
            await asyncio.sleep(0.01)
            yield result


async def test_configs_arriving_during_a_commit_go_into_the_next_one(tmp_path: Path) -> None:
    archive, index = GitArchive(tmp_path / "repo"), open_store(f"sqlite:///{tmp_path / 'a.db'}").archive
    names = [f"r{n:02d}" for n in range(40)]
    fetcher = Slow([FetchedConfig(n, "config", [], True, text=f"hostname {n}\nend\n") for n in names])
    results = await backup([PollTarget(n, "h", (("device", n),)) for n in names], fetcher, archive, index,
                           clock=lambda: T1)
    assert [r.device for r in results] == names and all(r.ok and r.commit for r in results)
    commits = {r.commit for r in results}
    assert 1 < len(commits) < len(names)  # batched, and the first did not wait for the last
    status = index.status()
    for result in results:
        assert status[result.device].last_commit == result.commit
        assert archive.show(result.device, result.commit or "") == f"hostname {result.device}\nend\n"
