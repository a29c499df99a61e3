import json
from typing import Any

import pytest

from alerts.state import Transition
from tests.alerts.casework import CASES, load_case, project, replay

NAMES = sorted(p.name for p in CASES.iterdir() if (p / "expected.json").exists())


def _key(item: dict[str, Any]) -> tuple[str, str, str]:
    return (item["rule"], item["subject"], item["kind"])


def _by_cycle(got: list[tuple[int, list[Transition]]], fields: list[str], only_notify: bool) -> dict[str, Any]:
    out = {}
    for t, transitions in got:
        shown = [project(x, fields) for x in transitions if x.notify or not only_notify]
        if shown:
            out[str(t)] = sorted(shown, key=_key)
    return out


@pytest.mark.parametrize("name", NAMES)
def test_case_notifications(name: str) -> None:
    expected = json.loads((CASES / name / "expected.json").read_text(encoding="utf-8"))
    got = replay(load_case(name))
    want = {t: sorted(items, key=_key) for t, items in expected["notifications"].items()}
    assert _by_cycle(got, expected["fields"], only_notify=True) == want
    if "transitions" in expected:
        want_all = {t: sorted(items, key=_key) for t, items in expected["transitions"].items()}
        assert _by_cycle(got, ["notify", "held"], only_notify=False) == want_all


@pytest.mark.parametrize("name", NAMES)
def test_restart_every_cycle_changes_nothing(name: str) -> None:
    case = load_case(name)
    assert replay(case, restart_every_cycle=True) == replay(case)


def test_case_list_is_complete() -> None:
    assert set(NAMES) >= {
        "storm-county", "village-alone", "threshold-for", "utilisation-contracted", "flapping",
        "silence-area-subtree", "maintenance-window", "ack-stops-repeats", "absent-data", "hostile-labels",
    }
