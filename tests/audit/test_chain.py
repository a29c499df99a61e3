"""The chain on disk: round trip, and each kind of tampering named at the right record."""

from __future__ import annotations

import json
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.audit.conftest import event
from yiwang.audit import GENESIS, AuditTrail
from yiwang.audit.chain import chain_hash


def write(tmp_path: Path, outcomes: list[str]) -> AuditTrail:
    trail = AuditTrail(tmp_path / "audit" / "audit.jsonl")
    for n, outcome in enumerate(outcomes, start=1):
        trail.append(event(n, outcome=outcome))
    return trail


def lines(trail: AuditTrail) -> list[str]:
    return trail.path.read_text(encoding="utf-8").splitlines(keepends=True)


def rewrite(trail: AuditTrail, new_lines: list[str]) -> None:
    trail.path.write_text("".join(new_lines), encoding="utf-8")


def test_round_trip(tmp_path: Path) -> None:
    trail = write(tmp_path, ["ok", "denied", "failed: device unreachable"])
    records = [json.loads(line) for line in lines(trail)]
    assert [r["seq"] for r in records] == [1, 2, 3]
    assert records[0]["prev"] == GENESIS
    for before, after in zip(records, records[1:], strict=False):
        assert after["prev"] == before["hash"]
    for r in records:  # the hash is recomputable by anyone from the line alone
        assert chain_hash(r["prev"], {k: v for k, v in r.items() if k != "hash"}) == r["hash"]
    assert records[1]["identity"] == "alice" and records[1]["outcome"] == "denied" and records[1]["status"] == 200
    datetime.strptime(records[0]["time"], "%Y-%m-%dT%H:%M:%S.%fZ")  # UTC with microseconds
    result = trail.verify()
    assert (result.ok, result.records, result.first_bad) == (True, 3, None), result
    assert json.loads(trail.head_path.read_text()) == {"seq": 3, "hash": records[2]["hash"]}


def test_files_are_private(tmp_path: Path) -> None:
    trail = write(tmp_path, ["ok"])
    assert stat.S_IMODE(os.stat(trail.path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(trail.head_path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(trail.path.parent).st_mode) == 0o700


def test_a_new_trail_object_continues_the_chain(tmp_path: Path) -> None:
    write(tmp_path, ["ok", "ok"]).close()
    trail = write(tmp_path, ["ok"])
    assert [r.seq for r in trail.records()] == [3, 2, 1]
    assert trail.verify().ok


def test_empty_and_missing_files_verify(tmp_path: Path) -> None:
    trail = AuditTrail(tmp_path / "none" / "audit.jsonl")
    assert trail.verify().ok and trail.verify().records == 0
    assert trail.records() == []
    assert not trail.path.exists()  # reading creates nothing


def test_an_edited_outcome_is_caught_at_that_record(tmp_path: Path) -> None:
    trail = write(tmp_path, ["ok", "ok", "denied", "ok", "ok"])
    text = lines(trail)
    assert '"outcome":"denied"' in text[2]
    text[2] = text[2].replace('"outcome":"denied"', '"outcome":"ok"')  # as one would in an editor
    rewrite(trail, text)
    result = trail.verify()
    assert (result.ok, result.first_bad, result.line, result.records) == (False, 3, 3, 2), result
    assert "altered" in result.reason


def test_an_edit_with_the_hash_recomputed_is_caught_at_the_next_record(tmp_path: Path) -> None:
    trail = write(tmp_path, ["ok", "denied", "ok", "ok"])
    text = lines(trail)
    record = json.loads(text[1])
    record["outcome"] = "ok"
    record["hash"] = chain_hash(record["prev"], {k: v for k, v in record.items() if k != "hash"})
    text[1] = json.dumps(record) + "\n"
    rewrite(trail, text)
    result = trail.verify()
    assert (result.ok, result.first_bad, result.line) == (False, 3, 3), result
    assert "does not follow record 2" in result.reason


def test_a_deleted_middle_record_is_named(tmp_path: Path) -> None:
    trail = write(tmp_path, ["ok"] * 6)
    text = lines(trail)
    del text[3]  # record 4
    rewrite(trail, text)
    result = trail.verify()
    assert (result.ok, result.first_bad, result.line, result.records) == (False, 4, 4, 3), result
    assert "record 4 is missing" in result.reason


def test_two_swapped_records_are_named(tmp_path: Path) -> None:
    trail = write(tmp_path, ["ok"] * 6)
    text = lines(trail)
    text[1], text[2] = text[2], text[1]  # records 2 and 3
    rewrite(trail, text)
    result = trail.verify()
    assert (result.ok, result.first_bad, result.line) == (False, 2, 2), result
    assert "line 2 holds record 3" in result.reason


def test_a_cut_off_tail_is_caught_through_the_head(tmp_path: Path) -> None:
    trail = write(tmp_path, ["ok"] * 5)
    rewrite(trail, lines(trail)[:3])
    result = trail.verify()
    assert (result.ok, result.first_bad, result.line, result.records) == (False, 4, 4, 3), result
    assert "records 4-5 were cut off" in result.reason


def test_a_replaced_last_record_is_caught_through_the_head(tmp_path: Path) -> None:
    trail = write(tmp_path, ["ok", "denied"])
    other = write(tmp_path / "other", ["ok", "ok"])
    rewrite(trail, lines(trail)[:1] + lines(other)[1:])  # record 2 of another chain: its prev does not fit
    assert trail.verify().first_bad == 2


def test_a_garbage_line_is_named(tmp_path: Path) -> None:
    trail = write(tmp_path, ["ok"] * 4)
    text = lines(trail)
    text[2] = "this is not a record\n"
    rewrite(trail, text)
    result = trail.verify()
    assert (result.ok, result.first_bad, result.line) == (False, 3, 3), result
    assert "not a valid record" in result.reason


@pytest.mark.parametrize("damage", [
    lambda r: r.pop("target"),
    lambda r: r.update(seq="3"),
    lambda r: r.update(roles="operator"),
    lambda r: r.update(extra=1),
    lambda r: r.update(hash="xyz"),
])
def test_records_out_of_shape_are_malformed(tmp_path: Path, damage) -> None:  # type: ignore[no-untyped-def]
    trail = write(tmp_path, ["ok"] * 4)
    text = lines(trail)
    record = json.loads(text[2])
    damage(record)
    text[2] = json.dumps(record) + "\n"
    rewrite(trail, text)
    result = trail.verify()
    assert (result.ok, result.first_bad, result.line) == (False, 3, 3), result


def test_an_unreadable_head_fails_verification(tmp_path: Path) -> None:
    trail = write(tmp_path, ["ok"] * 2)
    trail.head_path.write_text("garbage")
    result = trail.verify()
    assert not result.ok and "audit.head is unreadable" in result.reason


def test_appending_after_a_cut_off_tail_keeps_the_gap_visible(tmp_path: Path) -> None:
    trail = write(tmp_path, ["ok"] * 5)
    rewrite(trail, lines(trail)[:2])
    trail.append(event(6))
    assert [json.loads(line)["seq"] for line in lines(trail)] == [1, 2, 6]
    result = trail.verify()
    assert (result.ok, result.first_bad, result.line) == (False, 3, 3), result


def test_appending_after_a_partial_line_keeps_it_a_line_of_its_own(tmp_path: Path) -> None:
    trail = write(tmp_path, ["ok"] * 2)
    with trail.path.open("a") as f:
        f.write('{"seq":3,"tim')  # a write cut short
    record = trail.append(event(3))
    assert record.seq == 3
    assert lines(trail)[2] == '{"seq":3,"tim\n'
    result = trail.verify()
    assert (result.ok, result.first_bad, result.line) == (False, 3, 3), result


def test_records_filters_newest_first(tmp_path: Path) -> None:
    trail = AuditTrail(tmp_path / "audit.jsonl")
    trail.append(event(1, identity="alice", action="alerts.ack", outcome="ok"))
    trail.append(event(2, identity="bob", action="alerts.silence", outcome="denied"))
    trail.append(event(3, identity="alice", action="config.backup", outcome="failed: 2 of 9 devices failed"))
    trail.append(event(4, identity="alice", action="alerts.silence", outcome="ok"))
    seqs = lambda **kw: [r.seq for r in trail.records(**kw)]  # noqa: E731
    assert seqs() == [4, 3, 2, 1]
    assert seqs(limit=2) == [4, 3]
    assert seqs(identity="alice") == [4, 3, 1]
    assert seqs(action="alerts.") == [4, 2, 1]
    assert seqs(action="alerts.silence", identity="alice") == [4]
    assert seqs(outcome="failed") == [3]
    assert seqs(outcome="ok") == [4, 1]
    times = {r.seq: datetime.fromisoformat(r.time) for r in trail.records()}
    assert seqs(since=times[2]) == [4, 3, 2]
    assert seqs(until=times[2]) == [1]
    assert seqs(since=times[2], until=times[4]) == [3, 2]
    assert seqs(since=datetime.now(UTC) + timedelta(hours=1)) == []
    assert seqs(limit=0) == []


def test_records_filters_on_values_that_json_escapes(tmp_path: Path) -> None:
    trail = AuditTrail(tmp_path / "audit.jsonl")
    for n, name in enumerate(['a"b\\c', "张三", "alice", 'a"b'], start=1):
        trail.append(event(n, identity=name, action=f"审计.{name}"))
    assert [r.seq for r in trail.records(identity='a"b\\c')] == [1]
    assert [r.seq for r in trail.records(identity="张三")] == [2]
    assert [r.seq for r in trail.records(identity='a"b')] == [4]
    assert [r.seq for r in trail.records(action='审计.a"b')] == [4, 1]


def test_records_reads_across_blocks(tmp_path: Path) -> None:
    trail = AuditTrail(tmp_path / "audit.jsonl")
    for n in range(1, 401):  # ~400 bytes a record: several 64 KiB blocks read from the end
        trail.append(event(n, parameters={"comment": "x" * 200, "n": n}))
    assert [r.seq for r in trail.records(limit=None)] == list(range(400, 0, -1))
    assert [r.parameters["n"] for r in trail.records(limit=3)] == [400, 399, 398]
    assert trail.verify().records == 400


def test_values_json_cannot_hold_are_stored_so_the_hash_still_checks(tmp_path: Path) -> None:
    trail = AuditTrail(tmp_path / "audit.jsonl")
    record = trail.append(event(1, identity="caf\udce9", parameters={
        "ratio": float("nan"), "when": datetime(2026, 1, 1, tzinfo=UTC), "path": Path("/x"), 7: (1, 2),
        "名前": "村委会"}))
    assert record.parameters == {"ratio": "nan", "when": "2026-01-01T00:00:00+00:00", "path": "/x", "7": [1, 2],
                                 "名前": "村委会"}
    assert "村委会" in trail.path.read_text(encoding="utf-8")  # ensure_ascii=False
    assert trail.verify().ok
