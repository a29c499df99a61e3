"""The one CSV writer of the capacity reports (the CLI's --csv, the API's format=csv): rows of dicts, columns
named, and every text cell guarded against spreadsheet formulas, since device and inventory text (a model, an
interface alias, a carrier's name) ends up in them."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # what Excel, LibreOffice and Sheets take as a formula's start


def safe_cell(value: object) -> object:
    """Text that a spreadsheet would run gets a leading apostrophe (shown as text, not evaluated); numbers stay
    numbers (a negative number is a number, not a formula); None is empty."""
    if value is None:
        return ""
    if isinstance(value, str) and value[:1] in FORMULA_STARTS:
        return "'" + value
    return value


def csv_text(rows: Iterable[Mapping[str, object]], fields: Sequence[str]) -> str:
    """A header of `fields`, then one line per row in that order (other keys left out, missing ones empty)."""
    stream = io.StringIO()
    writer = csv.DictWriter(stream, fieldnames=list(fields), extrasaction="ignore", restval="")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: safe_cell(value) for key, value in row.items()})
    return stream.getvalue()
