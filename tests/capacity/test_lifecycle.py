"""The lifecycle file: the shipped example loads; each broken file in cases/lifecycle/ names its line, entry and
field (error.txt holds the whole message)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from yiwang.capacity.lifecycle import Lifecycle, LifecycleFileError, find, load_lifecycle, parse_lifecycle

CASES = Path(__file__).parent / "cases" / "lifecycle"
EXAMPLE = Path(__file__).parents[2] / "yiwang" / "capacity" / "lifecycle.example.yaml"


def test_the_shipped_example_loads_and_says_where_each_date_comes_from() -> None:
    entries = load_lifecycle(EXAMPLE)
    assert len(entries) == 7
    isr = next(e for e in entries if e.model == "ISR4331")
    assert isr == Lifecycle("cisco_ios", "ISR4331", date(2023, 11, 30), date(2027, 6, 30), isr.source,
                            "C8200L-1N-4T")
    # nothing in it was checked against a vendor notice, and every entry says so
    assert all(e.source.startswith("EXAMPLE, not verified") for e in entries)


def test_a_good_file_with_an_optional_replacement_and_quoted_dates() -> None:
    text = ("- {platform: ruijie_os, model: RSR20-14F, end_of_sale: '2021-06-30', end_of_life: 2025-06-30,\n"
            "   source: ' a notice '}\n")
    assert parse_lifecycle(text) == (Lifecycle("ruijie_os", "RSR20-14F", date(2021, 6, 30), date(2025, 6, 30),
                                               "a notice"),)
    assert parse_lifecycle("") == () and parse_lifecycle("# only comments\n") == ()


@pytest.mark.parametrize("case", sorted(p.name for p in CASES.iterdir()))
def test_a_broken_file_names_the_line_entry_and_field(case: str) -> None:
    folder = CASES / case
    with pytest.raises(LifecycleFileError) as caught:
        parse_lifecycle((folder / "lifecycle.yaml").read_text(encoding="utf-8"), "lifecycle.yaml")
    assert str(caught.value) == (folder / "error.txt").read_text(encoding="utf-8").strip()


def test_an_unreadable_file_is_an_error_too(tmp_path: Path) -> None:
    with pytest.raises(LifecycleFileError, match=r"missing\.yaml: file: -: cannot be read: No such file"):
        load_lifecycle(tmp_path / "missing.yaml")


def test_an_exact_model_wins_over_a_pattern_and_case_does_not_matter() -> None:
    family = Lifecycle("huawei_vrp", "S5735-L*", date(2027, 12, 31), date(2032, 12, 31), "family")
    one = Lifecycle("huawei_vrp", "S5735-L48T4X", date(2025, 1, 1), date(2029, 1, 1), "one model")
    assert find((family, one), "huawei_vrp", "s5735-l48t4x") is one
    assert find((family, one), "huawei_vrp", "S5735-L24T4X") is family
    assert find((family, one), "hp_comware", "S5735-L48T4X") is None  # another platform's model of that name
    assert find((family, one), "huawei_vrp", "") is None
