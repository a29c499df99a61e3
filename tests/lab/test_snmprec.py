"""Rendering cases: tests/lab/cases/<name>/ holds input.json (a device plan, the lab start time and, for a
rewrite, previous.snmprec and the time `now`) and expected.snmprec. A new case needs no new code.

Regenerate the expected files after a deliberate change with `python -m tests.lab.test_snmprec`, and read the
diff before committing it."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from snmpsim.grammar.snmprec import SnmprecGrammar
from snmpsim.record.snmprec import SnmprecRecord

from collectors.snmp import ber
from lab.city import CpuPlan, DevicePlan, InterfacePlan, StoragePlan
from lab.mib import Interner, parse_snmprec
from lab.ramp import Ramp, parse_spec, served
from lab.snmprec import octets, read_ramps, render_snmprec

CASES = Path(__file__).parent / "cases"


def device_from_dict(data: dict[str, Any]) -> DevicePlan:
    return DevicePlan(**{
        **data,
        "interfaces": tuple(InterfacePlan(**i) for i in data["interfaces"]),
        "cpus": tuple(CpuPlan(**c) for c in data["cpus"]),
        "storage": tuple(StoragePlan(**s) for s in data["storage"]),
    })


def render_case(case: Path) -> str:
    spec = json.loads((case / "input.json").read_text(encoding="utf-8"))
    previous_file = case / "previous.snmprec"
    previous = read_ramps(previous_file.read_text(encoding="utf-8")) if previous_file.exists() else None
    return render_snmprec(device_from_dict(spec["device"]), spec["started"], previous, spec.get("now"))


@pytest.mark.parametrize("case", sorted(p.name for p in CASES.iterdir() if p.is_dir()))
def test_case(case: str) -> None:
    got = render_case(CASES / case)
    assert got == (CASES / case / "expected.snmprec").read_text(encoding="utf-8")


@pytest.mark.parametrize("case", sorted(p.name for p in CASES.iterdir() if p.is_dir()))
def test_lines_are_sorted_and_both_agents_parse_them(case: str) -> None:
    text = render_case(CASES / case)
    assert len(parse_snmprec(text, Interner(0.0))) == len(text.splitlines())
    grammar = SnmprecGrammar()
    oids = []
    for line in render_case(CASES / case).splitlines():
        oid, tag, _ = grammar.parse(line.encode("iso-8859-1"))
        oids.append(tuple(int(x) for x in oid.split(".")))
        assert tag.split(":")[0] in ("2", "4", "4x", "6", "65", "66", "67", "70")
    assert oids == sorted(oids) and len(oids) == len(set(oids))


@pytest.mark.parametrize("text", [
    "plain ascii",
    "<script>alert(1)</script>$(reboot);rm -rf / \n{{7*7}}",
    "黄冈 Huanggang",
    " leading and trailing ",
    "pipe | in the middle",
    "",
])
def test_strings_come_back_byte_exact(text: str) -> None:
    tag, value = octets(text)
    line = f"1.3.6.1.2.1.1.5.0|{tag}|{value}\n"
    # as the lab's responder serves it
    cell = parse_snmprec(line, Interner(0.0)).cells[0]
    assert isinstance(cell, bytes)
    response = ber.encode_message(b"c", ber.RESPONSE, 1, 0, 0, ber.encode_varbind_list([cell]))
    assert ber.decode_response(response).varbinds[0][2] == text.encode("utf-8")
    # and as snmpsim reads the same line (benchmarks/lab_responder.py serves the lab's data with it)
    record = SnmprecRecord()
    oid, parsed_tag, parsed_value = record.grammar.parse(line.encode("iso-8859-1"))
    _, _, snmpsim_value = record.evaluate_value(oid, parsed_tag, parsed_value)
    assert bytes(snmpsim_value.asOctets()) == text.encode("utf-8")


def test_hex_only_when_needed() -> None:
    assert octets("GigabitEthernet 0/1") == ("4", "GigabitEthernet 0/1")
    assert octets("a\nb") == ("4x", "610a62")


def test_ramp_wraps_where_real_counters_do() -> None:
    ramp = Ramp(2**32 - 1, 2.0, 0.0)
    value32, value64 = served(ramp, "65", 1.0), served(ramp, "70", 1.0)
    assert 0 <= value32 < 2**32 and value64 >= 2**32
    assert value32 == value64 % 2**32


def test_ramp_keeps_64_bit_precision_and_round_trips() -> None:
    big = Ramp(2**63 + 12345, 1.25, 100.0)
    assert big.at(104.0) == 2**63 + 12350
    assert big.at(50.0) == big.base  # never runs backwards before t0
    assert parse_spec(big.spec()) == big
    assert parse_spec("t0=100.0,base=7,rate=1.5") == Ramp(7, 1.5, 100.0)  # any order


def test_read_ramps_finds_every_counter() -> None:
    text = render_case(CASES / "linux-server")
    ramps = read_ramps(text)
    assert "1.3.6.1.2.1.31.1.1.1.6.2" in ramps and "1.3.6.1.2.1.2.2.1.14.2" in ramps
    assert all(r.t0 == 1800000000.0 for r in ramps.values())


def test_continuation_needs_a_time() -> None:
    device = device_from_dict(json.loads((CASES / "linux-server" / "input.json").read_text())["device"])
    with pytest.raises(ValueError, match="time of the rewrite"):
        render_snmprec(device, 0.0, {"1.3": Ramp(0, 0.0, 0.0)})


if __name__ == "__main__":
    for case_dir in sorted(p for p in CASES.iterdir() if p.is_dir()):
        (case_dir / "expected.snmprec").write_text(render_case(case_dir), encoding="utf-8")
        sys.stdout.write(f"wrote {case_dir / 'expected.snmprec'}\n")
