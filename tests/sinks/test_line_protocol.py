from __future__ import annotations

import json
import math
import random
from pathlib import Path

import pytest
from influxdb_client import Point

from collectors.model import Sample
from yiwang.sinks.line_protocol import encode_batch, to_line

CASES = Path(__file__).parent / "cases" / "line_protocol"
HOSTILE = [" ", ",", "=", '"', "'", "\n", "\t", "\r", "\\", "#", "<", ">", "&", "%", "{", "}", "a", "Z", "0", "_",
           "黄", "州", "é", "\u2028", "\x00", "\x7f", "😀", ".", "/"]


def load_case(folder: Path) -> tuple[Sample, str]:
    raw = json.loads((folder / "sample.json").read_text(encoding="utf-8"))
    sample = Sample(raw["measurement"], tuple((k, v) for k, v in raw["tags"]), raw["fields"], raw["time_ns"])
    return sample, (folder / "expected.lp").read_text(encoding="utf-8").removesuffix("\n")


@pytest.mark.parametrize("folder", sorted(CASES.iterdir()), ids=lambda p: p.name)
def test_case_folder(folder: Path) -> None:
    sample, expected = load_case(folder)
    assert to_line(sample) == expected
    assert encode_batch([sample]) == ((expected + "\n").encode() if expected else b"")


def fix_backslashes(text: str, specials: str = "\\,= \n\t\r") -> str:
    """The documented rule, written independently of the implementation."""
    out = []
    for i, ch in enumerate(text):
        if ch == "\\" and (i + 1 == len(text) or text[i + 1] in specials):
            out.append("/")
        else:
            out.append(ch)
    return "".join(out)


def hostile_strings(count: int, seed: int = 20240611) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice(HOSTILE) for _ in range(rng.randint(0, 12))) for _ in range(count)]


def point_line(measurement: str, tags: dict[str, str], fields: dict[str, float], time_ns: int) -> str:
    point = Point(measurement)
    for key, value in tags.items():
        point.tag(key, value)
    for name, number in fields.items():
        point.field(name, number)
    return str(point.time(time_ns).to_line_protocol())


def test_matches_influxdb_client_point_on_hostile_strings() -> None:
    identical = 0
    for i, text in enumerate(hostile_strings(3000)):
        key = text or "k"
        sample = Sample("if,ace " + text.replace("#", ""), (("device", f"r{i}"), (key, text)),
                        {key: float(i), "value": i / 7}, 1_700_000_000_000_000_000 + i)
        ours = to_line(sample)
        fixed_key = fix_backslashes(key)
        reference = point_line(fix_backslashes(sample.measurement, "\\, \n\t\r"),
                               {"device": f"r{i}", fixed_key: fix_backslashes(text)},
                               {fixed_key: float(i), "value": i / 7}, sample.time_ns)
        assert ours == reference, (text, ours, reference)
        if "\\" not in text:
            identical += 1
    assert identical > 1000  # most cases are a plain byte-for-byte comparison with Point


# --- a reference parser, after InfluxDB's models/points.go and VictoriaMetrics' influx parser ---

def split_unescaped(text: str, sep: str, limit: int = -1) -> list[str]:
    parts, current, i = [], [], 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            current.append(text[i:i + 2])
            i += 2
            continue
        if ch == sep and limit != 0:
            parts.append("".join(current))
            current = []
            limit -= 1
        else:
            current.append(ch)
        i += 1
    parts.append("".join(current))
    return parts


def unescape_influxdb(text: str) -> str:
    return text.replace("\\,", ",").replace("\\ ", " ").replace("\\=", "=")


def unescape_victoria(text: str) -> str:
    out, i = [], 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text) and text[i + 1] in " ,=\\":
            out.append(text[i + 1])
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def parse(line: str, unescape: object) -> tuple[dict[str, str], dict[str, float], int]:
    assert "\n" not in line
    series, fields_text, time_text = split_unescaped(line, " ")
    _, *tag_parts = split_unescaped(series, ",")
    tags = {}
    for part in tag_parts:
        key, value = split_unescaped(part, "=", 1)
        tags[unescape(key)] = unescape(value)  # type: ignore[operator]
    fields = {}
    for part in split_unescaped(fields_text, ","):
        key, value = split_unescaped(part, "=", 1)
        fields[unescape(key)] = float(value)  # type: ignore[operator]
    return tags, fields, int(time_text)


def stored_value(text: str) -> str:
    """What a database stores for a tag value we were given, per the module's documented rules."""
    return fix_backslashes(text).replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")


def test_hostile_tag_values_parse_back_the_same_in_influxdb_and_victoriametrics() -> None:
    for i, text in enumerate(hostile_strings(3000, seed=7)):
        if not text:
            continue
        sample = Sample("device", (("a", text), ("device", "r1"), ("z", "tail")), {"up": 1.0, "n": float(i)}, 42)
        line = to_line(sample)
        expected = ({"a": stored_value(text), "device": "r1", "z": "tail"}, {"n": float(i), "up": 1.0}, 42)
        assert parse(line, unescape_influxdb) == expected, (text, line)
        assert parse(line, unescape_victoria) == expected, (text, line)
        assert "\\\\" not in line  # the one sequence the two servers read differently


def test_encode_batch_joins_lines_and_skips_empty_ones() -> None:
    good = Sample("m", (("d", "x"),), {"v": 1.0}, 1)
    empty = Sample("m", (("d", "y"),), {"v": math.nan}, 2)
    assert encode_batch([good, empty, good]) == b"m,d=x v=1 1\nm,d=x v=1 1\n"
    assert encode_batch([]) == b""
    assert encode_batch([empty]) == b""


def test_encode_batch_reports_unwritable_samples_instead_of_failing_the_batch() -> None:
    good = Sample("m", (), {"v": 1.0}, 1)
    string_field = Sample("m", (), {"v": "up"}, 2)  # type: ignore[dict-item]
    comment = Sample("#m", (), {"v": 1.0}, 3)
    with pytest.raises(ValueError):
        encode_batch([good, string_field])
    rejected: list[tuple[Sample, str]] = []
    assert encode_batch([good, string_field, comment, good], rejected) == b"m v=1 1\nm v=1 1\n"
    assert [sample for sample, _ in rejected] == [string_field, comment]


def test_lone_surrogate_does_not_fail_the_batch() -> None:
    body = encode_batch([Sample("m", (("t", "bad\udcff"),), {"v": 1.0}, 1)])
    assert body == b"m,t=bad? v=1 1\n"


def test_same_series_with_different_field_sets() -> None:
    tags = (("device", "r1"),)
    first = Sample("interface", tags, {"in_octets_total": 5.0}, 1)
    second = Sample("interface", tags, {"in_octets_total": 6.0, "in_bps": 8.0}, 2)
    assert to_line(first) == "interface,device=r1 in_octets_total=5 1"
    assert to_line(second) == "interface,device=r1 in_bps=8,in_octets_total=6 2"
