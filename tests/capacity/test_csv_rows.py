"""The capacity reports' one CSV writer: every text cell that a spreadsheet would run as a formula is written as
text, whichever way the CSV leaves (the library function, the equipment report, `yiwang capacity ... --csv`)."""

from __future__ import annotations

import csv
import io

import pytest

from yiwang.capacity import csv_rows, report
from yiwang.cli_capacity import _show

HOSTILE = ["=1+1", "+1+1", "-1+1", "@SUM(A1)", "\tx", "\rx"]


def read(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


@pytest.mark.parametrize("value", HOSTILE)
def test_each_formula_start_is_written_as_text(value: str) -> None:
    assert read(csv_rows.csv_text([{"a": value}], ["a"])) == [{"a": "'" + value}]


def test_harmless_cells_are_left_alone() -> None:
    row = {"name": "GE0/0/1", "inner": "a=b", "negative": -0.5, "none": None, "zero": 0, "unused": "=x"}
    text = csv_rows.csv_text([row], ["name", "inner", "negative", "none", "zero", "missing"])
    assert text.splitlines() == ["name,inner,negative,none,zero,missing", "GE0/0/1,a=b,-0.5,,0,"]


def test_the_link_reports_write_through_it() -> None:  # the equipment report's: tests/capacity/test_equipment.py
    assert report.csv_text([{"link": "@x", "carrier": "-电信"}], ["link", "carrier"]).splitlines()[1] == "'@x,'-电信"


def test_the_cli_csv_is_guarded(capsys: pytest.CaptureFixture[str]) -> None:
    _show([{"carrier": value, "links": 2} for value in HOSTILE], {"carrier": "运营商", "links": "链路"}, "", False,
          True)
    assert [(r["carrier"], r["links"]) for r in read(capsys.readouterr().out)] == [("'" + v, "2") for v in HOSTILE]
