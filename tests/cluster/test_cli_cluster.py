"""`yiwang cluster status|drain` as an operator runs them, against members in this process and a real redis."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

from tests.cluster.redis_server import RedisServer
from tests.cluster.test_coordination import KEYS, members, settled

ROOT = Path(__file__).resolve().parents[2]


def yiwang(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "yiwang", "cluster", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=60)


def config(tmp_path: Path, cluster: str) -> str:
    path = tmp_path / "yiwang.yaml"
    path.write_text(f"state_dir: {tmp_path}\n{cluster}", encoding="utf-8")
    return str(path)


async def test_status_and_drain(redis: RedisServer, tmp_path: Path) -> None:
    cfg = config(tmp_path, f"cluster: {{url: '{redis.url}', lease_ttl_s: 1, group: cli}}\n")
    async with members(redis.url, "cli", ["p1", "p2"]) as group:
        await settled(redis.url, "cli", {"p1", "p2"})
        done = await asyncio.to_thread(yiwang, "status", "-c", cfg, "--json")
        assert done.returncode == 0, done.stderr
        found = json.loads(done.stdout)
        assert [m["name"] for m in found["members"]] == ["p1", "p2"]
        assert sum(m["townships"] for m in found["members"]) == len(KEYS)
        table = await asyncio.to_thread(yiwang, "status", "-c", cfg)
        assert "成员" in table.stdout and "p2" in table.stdout  # the table wraps headers at 80 columns
        done = await asyncio.to_thread(yiwang, "drain", "p2", "-c", cfg, "--group", "cli")
        assert done.returncode == 0, done.stderr
        await asyncio.wait_for(group[1].drained.wait(), timeout=3)
        unknown = await asyncio.to_thread(yiwang, "drain", "nobody", "-c", cfg)
        assert unknown.returncode == 2 and "nobody" in unknown.stderr
    audit = (tmp_path / "audit" / "audit.jsonl").read_text(encoding="utf-8")
    assert audit.count('"cluster.drain"') == 2


def test_without_a_cluster_section(tmp_path: Path) -> None:
    done = yiwang("status", "-c", config(tmp_path, ""))
    assert done.returncode == 2 and "cluster" in done.stderr
