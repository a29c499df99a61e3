"""Case folders: recorded lab output (raw.txt) and what it must parse or normalize to."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from collectors.platforms import cli_of
from collectors.ssh.parse import (
    DeviceReport,
    Facts,
    Interface,
    Optic,
    ParseError,
    as_json,
    clean_output,
    parse,
    parse_all,
    to_samples,
    uptime_seconds,
)
from lab.ssh.faults import garble
from yiwang.archive.normalize import normalize

CASES = Path(__file__).parent / "cases"
SHOW_CASES = sorted(d for d in CASES.iterdir() if (d / "expected.json").exists())
CONFIG_CASES = sorted(d for d in CASES.iterdir() if (d / "expected.txt").exists())


def platform_kind(case: Path) -> tuple[str, str]:
    platform, kind = case.name.split("-")[:2]
    return platform, kind


@pytest.mark.parametrize("case", SHOW_CASES, ids=[c.name for c in SHOW_CASES])
def test_show_case(case: Path) -> None:
    platform, kind = platform_kind(case)
    got = as_json(parse(platform, kind, (case / "raw.txt").read_text()))
    assert got == json.loads((case / "expected.json").read_text())


@pytest.mark.parametrize("case", [c for c in SHOW_CASES if not c.name.endswith("hostile")],
                         ids=[c.name for c in SHOW_CASES if not c.name.endswith("hostile")])
def test_garbled_output_parses_the_same(case: Path) -> None:
    platform, kind = platform_kind(case)
    raw = (case / "raw.txt").read_text()
    assert as_json(parse(platform, kind, garble(raw.replace("\n", "\r\n")))) == as_json(parse(platform, kind, raw))


@pytest.mark.parametrize("case", CONFIG_CASES, ids=[c.name for c in CONFIG_CASES])
def test_normalize_case(case: Path) -> None:
    platform, _ = platform_kind(case)
    got = normalize(platform, (case / "raw.txt").read_bytes().decode())
    assert got == (case / "expected.txt").read_text()
    assert "\r" not in got and "Last configuration" not in got and "Current configuration" not in got


def test_normalize_keeps_real_config_and_is_idempotent() -> None:
    text = "hostname a\r\nntp clock-period 17179\r\nclock timezone CST 8\r\n!Time: now\r\nend\r\n"
    assert normalize("cisco_ios", text) == "hostname a\nclock timezone CST 8\nend\n"
    assert normalize("cisco_ios", normalize("cisco_ios", text)) == normalize("cisco_ios", text)


def test_clean_output_strips_pager_and_escapes() -> None:
    raw = "a\r\n  ---- More ----\x1b[42D" + " " * 42 + "\x1b[42Db\r\n\x1b[Kc\r\n" + "x" * 4000 + "\n"
    assert clean_output(raw) == "a\nb\nc\n"


def test_uptime_units() -> None:
    assert uptime_seconds("1 week, 2 days, 1 hour, 3 minutes") == 604800 + 2 * 86400 + 3600 + 180
    with pytest.raises(ParseError):
        uptime_seconds("up for a while")


def test_unparseable_version_is_a_parse_error() -> None:
    with pytest.raises(ParseError):
        parse("hp_comware", "version", "% Unrecognized command found at '^' position.\n")


def test_every_platform_parses_into_samples() -> None:
    for platform in ("huawei_vrp", "hp_comware", "ruijie_os", "cisco_ios"):
        outputs = {k: (CASES / f"{platform}-{k}" / "raw.txt").read_text() for k in cli_of(platform).show}
        samples = to_samples(parse_all(platform, outputs), (("device", "d1"),), 7)
        device = next(s for s in samples if s.measurement == "ssh_device")
        assert set(device.fields) == {"uptime_seconds", "interfaces_up", "interfaces_down", "ipv6_interfaces_up",
                                      "arp_entries", "nd_entries"}
        assert device.fields["ipv6_interfaces_up"] == 1 and device.fields["nd_entries"] == 1
        facts = next(s for s in samples if s.measurement == "device_facts")
        assert facts.tag("model") and facts.tag("serial") and facts.tag("version") and facts.fields == {"info": 1.0}
        assert any(s.measurement == "transceiver" for s in samples)


def test_samples_shape() -> None:
    report = DeviceReport(Facts("M", "V", "S", 60.0), interfaces=[Interface("a", True), Interface("b", False)],
                          ipv6_up=["a"], arp_entries=3, nd_entries=1, optics=[Optic("a", -3.5, -2.0)])
    samples = to_samples(report, (("area", "x"), ("device", "d")), 5)
    assert samples[0].fields["interfaces_up"] == 1 and samples[0].fields["interfaces_down"] == 1
    assert samples[1].tags == (("area", "x"), ("device", "d"), ("model", "M"), ("serial", "S"), ("version", "V"))
    assert samples[2].tags == (("area", "x"), ("device", "d"), ("interface", "a"))
    assert samples[2].fields == {"rx_dbm": -3.5, "tx_dbm": -2.0} and samples[2].time_ns == 5
