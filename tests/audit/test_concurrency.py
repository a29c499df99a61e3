"""Several processes and threads appending to one file leave one valid chain."""

from __future__ import annotations

import json
import multiprocessing
import threading
from collections import Counter
from pathlib import Path

from tests.audit.conftest import event
from tests.audit.workers import append_many
from yiwang.audit import AuditTrail


def test_four_processes_append_800_records_into_one_chain(tmp_path: Path) -> None:
    path = tmp_path / "audit" / "audit.jsonl"
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=append_many, args=(str(path), w, 200)) for w in range(4)]
    for p in workers:
        p.start()
    for p in workers:
        p.join(120)
        assert p.exitcode == 0
    result = AuditTrail(path).verify()
    assert (result.ok, result.records) == (True, 800), result
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["seq"] for r in records] == list(range(1, 801))
    assert Counter(r["identity"] for r in records) == {f"worker-{w}": 200 for w in range(4)}
    for w in range(4):  # each process's records keep their own order
        assert [r["target"] for r in records if r["identity"] == f"worker-{w}"] == [str(n) for n in range(200)]


def test_threads_and_two_trail_objects_in_one_process(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    trails = [AuditTrail(path), AuditTrail(path)]  # two descriptors: the flock, not only the thread lock

    def work(k: int) -> None:
        for n in range(100):
            trails[k % 2].append(event(n, identity=f"t{k}"))

    threads = [threading.Thread(target=work, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result = trails[0].verify()
    assert (result.ok, result.records) == (True, 600), result


def test_verify_while_another_process_appends_sees_no_false_break(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    context = multiprocessing.get_context("spawn")
    writer = context.Process(target=append_many, args=(str(path), 0, 400))
    writer.start()
    trail, checks = AuditTrail(path), []
    while writer.is_alive():
        checks.append(trail.verify())
    writer.join()
    checks.append(trail.verify())
    bad = [c for c in checks if not c.ok]
    assert bad == [], bad[:3]
    assert checks[-1].records == 400 and len(checks) > 2
