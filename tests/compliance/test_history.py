"""The decisions of the compliance history, pure: what a run writes, what is newly failing or fixed, a day's run."""

from __future__ import annotations

from datetime import datetime

from yiwang.compliance.history import diff, last_of_each_day, reconcile


def test_newly_failing_and_fixed_between_two_runs() -> None:
    before = {("a", "ntp-server"): "fail", ("a", "syslog-server"): "pass", ("b", "ntp-server"): "fail",
              ("c", "ntp-server"): "fail", ("d", "ntp-server"): "fail", ("e", "mgmt-acl"): "fail"}
    after = {("a", "ntp-server"): "pass", ("a", "syslog-server"): "fail", ("b", "ntp-server"): "fail",
             ("c", "ntp-server"): "exempt", ("d", "ntp-server"): "error", ("f", "mgmt-acl"): "fail",
             ("e", "uplink-capacity"): "not-applicable"}
    changes = diff(before, after, run=2, previous=1)
    assert changes.newly_failing == (("a", "syslog-server"), ("f", "mgmt-acl"))
    # exempt, error and a device x rule no longer checked are not "fixed"
    assert changes.fixed == (("a", "ntp-server"),)
    assert changes.as_json()["fixed"] == [{"device": "a", "rule": "ntp-server"}]


def test_the_first_run_has_every_failure_newly_failing() -> None:
    changes = diff({}, {("a", "ntp-server"): "fail", ("a", "mgmt-acl"): "pass"}, run=1, previous=None)
    assert changes.newly_failing == (("a", "ntp-server"),) and changes.fixed == ()


def test_a_run_closes_changed_and_vanished_rows_and_writes_only_what_changed() -> None:
    holding = {("a", "r1"): (10, ("pass",)), ("a", "r2"): (11, ("fail", "line 3")), ("gone", "r1"): (12, ("pass",))}
    new = {("a", "r1"): ("pass",), ("a", "r2"): ("fail", "line 4"), ("b", "r1"): ("error",)}
    close, write = reconcile(holding, new)
    assert sorted(close) == [11, 12]
    assert sorted(write) == [("a", "r2"), ("b", "r1")]
    assert reconcile(holding, {k: s for k, (_, s) in holding.items()}) == ([], [])


def test_the_last_run_of_each_day_stands_for_it() -> None:
    at = [datetime(2026, 11, 28, 3).timestamp(), datetime(2026, 11, 28, 15).timestamp(),
          datetime(2026, 11, 30, 1).timestamp()]
    assert [(d.isoformat(), r) for d, r in last_of_each_day([(7, at[1]), (6, at[0]), (8, at[2])])] == [
        ("2026-11-28", 7), ("2026-11-30", 8)]
