"""Version ordering on real version strings (as the SSH collector keeps them: tests/ssh_collect/real/*/version and the
lab's models), ranges at their bounds, the advisory file's errors, and the rule."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from collectors.model import Sample
from yiwang.compliance.advisories import (
    AdvisoryFileError,
    VersionError,
    firmware_advisory,
    load_advisories,
    parse_advisories,
    version_key,
    version_of,
)

REAL = Path(__file__).parents[2] / "ssh_collect" / "real"
EXAMPLE = Path(__file__).parents[3] / "yiwang" / "compliance" / "advisories.example.yaml"


def real_versions() -> list[tuple[str, str]]:
    return [(p.parts[-4], json.loads(p.read_text())["version"]) for p in sorted(REAL.glob("*/version/*/expected.json"))]


@pytest.mark.parametrize(("platform", "version"), real_versions())
def test_every_real_version_the_collector_read_parses(platform: str, version: str) -> None:
    assert version_key(platform, version).text == version


# Each list is in release order, oldest first; neighbours differ in exactly the part the ordering must get right.
ORDERED = {
    "huawei_vrp": ["V200R010C00SPC600", "V200R019C00SPC500", "V200R019C10", "V200R019C10SPC300",
                   "V200R019C10SPC500", "V200R019C10SPC500SPH5", "V200R019C10SPC600", "V300R003C10SPC500",
                   "V300R019C10SPC300", "V300R019C13SPC200", "V800R011C10SPC100"],
    "hp_comware": ["5.20 Release 2511", "5.20.99 Release 1115", "7.1.045 Release 2418P06", "7.1.045 Release 2432P05",
                   "7.1.045 Release 3106", "7.1.070 Release 6308", "7.1.070 Release 6615",
                   "7.1.070, Release 6615P05", "7.1.070 Release 6615P10", "7.1.070, Release 7751P08"],
    "cisco_ios": ["15.2(2)E", "15.2(2)E9", "15.2(2a)E1", "15.2(4.0.55)E", "15.2(7)E", "15.2(7)E4", "15.2(7)E10"],
    "ruijie_os": ["RGOS 10.4(3b19)p3 Release(180891)", "11.0(4)B8", "11.1(9)B1P14", "11.4(1)B12",
                  "S5750_RGOS 11.4(1)B12P3", "11.4(1)B12P8", "11.4(1)B70", "RGOS 11.9(4)B1"],
}


@pytest.mark.parametrize("platform", sorted(ORDERED))
def test_release_order(platform: str) -> None:
    keys = [version_key(platform, v) for v in ORDERED[platform]]
    assert all(a.comparable(b) for a, b in zip(keys, keys[1:], strict=False))
    assert [k.numbers for k in keys] == sorted(k.numbers for k in keys)
    assert len({k.numbers for k in keys}) == len(keys)


def test_ios_trains_do_not_compare() -> None:
    m, e, xe = (version_key("cisco_ios", v) for v in ("15.2(4)M11", "15.2(7)E4", "16.9.4"))
    assert not m.comparable(e) and not e.comparable(xe)
    assert version_key("cisco_ios", "16.9.3").numbers < xe.numbers < version_key("cisco_ios", "16.12.4").numbers


@pytest.mark.parametrize(("platform", "text"), [("huawei_vrp", "5.170"), ("hp_comware", "7.1.070"),
                                                ("cisco_ios", "IOS"), ("ruijie_os", "RGOS"), ("linux", "5.10")])
def test_not_a_version(platform: str, text: str) -> None:
    with pytest.raises(VersionError):
        version_key(platform, text)


ADVISORIES = """
- id: A-range
  platform: huawei_vrp
  severity: medium
  title: inclusive range
  affected: [{from: V200R019C10SPC300, to: V200R019C10SPC500}]
- id: B-before
  platform: hp_comware
  severity: high
  title: fixed in 6615P05
  url: https://example.invalid/b
  affected: [{from: "7.1.070 Release 6308", before: "7.1.070 Release 6615P05"}]
- id: C-exact
  platform: cisco_ios
  severity: critical
  title: one release
  affected: [{version: 15.2(7)E4}]
- id: D-models
  platform: ruijie_os
  severity: low
  title: only the S5750
  models: ["S5750*"]
  affected: [{to: 11.4(1)B12P3}]
"""


@pytest.mark.parametrize(("platform", "version", "model", "status"), [
    ("huawei_vrp", "V200R019C10SPC200", None, "pass"),
    ("huawei_vrp", "V200R019C10SPC300", None, "fail"),  # the lower bound is inclusive
    ("huawei_vrp", "V200R019C10SPC500", None, "fail"),  # so is `to`
    ("huawei_vrp", "V200R019C10SPC500SPH5", None, "pass"),  # a hot patch is after its SPC
    ("hp_comware", "7.1.070 Release 6308", None, "fail"),
    ("hp_comware", "7.1.070 Release 6615P03", None, "fail"),
    ("hp_comware", "7.1.070 Release 6615P05", None, "pass"),  # `before` is exclusive: the fixed release
    ("hp_comware", "7.1.064 Release 7951P05", None, "pass"),
    ("cisco_ios", "15.2(7)E4", None, "fail"),
    ("cisco_ios", "15.2(7)E5", None, "pass"),
    ("cisco_ios", "15.2(4)M4", None, "pass"),  # another train
    ("ruijie_os", "S5750_RGOS 11.4(1)B12P3", "S5750-24GT4XS-L", "fail"),
    ("ruijie_os", "RSR20_RGOS 11.4(1)B12P3", "RSR20-14F", "pass"),  # not the advisory's model
    ("ruijie_os", "S5750_RGOS 11.4(1)B12P3", None, "pass"),  # model unknown: a model-bound advisory cannot apply
])
def test_matching(platform: str, version: str, model: str | None, status: str) -> None:
    assert firmware_advisory(platform, version, parse_advisories(ADVISORIES), model).status == status


def test_a_failure_names_the_advisory_and_takes_its_severity() -> None:
    found = firmware_advisory("hp_comware", "7.1.070 Release 6615P03", parse_advisories(ADVISORIES))
    assert found.rule == "firmware-advisory"
    assert found.severity == "high"
    assert "B-before (high: fixed in 6615P05; affected 7.1.070 Release 6308 … before 7.1.070 Release 6615P05)" \
        in found.detail
    assert found.remediation == ("see https://example.invalid/b",)


def test_no_version_or_an_unreadable_one_is_an_error() -> None:
    advisories = parse_advisories(ADVISORIES)
    assert firmware_advisory("huawei_vrp", None, advisories).status == "error"
    assert firmware_advisory("huawei_vrp", "5.170", advisories).status == "error"
    assert firmware_advisory("linux", "5.10", advisories).status == "not-applicable"


@pytest.mark.parametrize(("text", "message"), [
    ("- {id: X, platform: huawei_vrp, severity: high, title: t, affected: [{to: V200R019}]}",
     "<advisories>: entry 1 (X): affected[0].to: 'V200R019' is not a huawei_vrp version"),
    ("- {id: X, platform: junos, severity: high, title: t, affected: [{to: 1}]}",
     "<advisories>: entry 1 (X): platform: 'junos' is not one of huawei_vrp, hp_comware, cisco_ios, ruijie_os"),
    ("- {id: X, platform: huawei_vrp, severity: urgent, title: t, affected: [{to: V200R019C10}]}",
     "<advisories>: entry 1 (X): severity: 'urgent' is not one of low, medium, high, critical"),
    ("- {id: X, platform: huawei_vrp, severity: low, title: t, affected: []}",
     "<advisories>: entry 1 (X): affected: needs at least one version range"),
    ("- {id: X, platform: huawei_vrp, severity: low, affected: [{to: V200R019C10}]}",
     "<advisories>: entry 1 (X): title: is required (text)"),
    ("- {id: X, platform: huawei_vrp, severity: low, title: t, affected: [{upto: V200R019C10}]}",
     "<advisories>: entry 1 (X): affected[0].upto: unknown bound (known: from, to, before, version)"),
    ("- {id: X, platform: huawei_vrp, severity: low, title: t, affected: [{from: V200R019C10, to: V200R010C00}]}",
     "<advisories>: entry 1 (X): affected[0]: 'from' 'V200R019C10' is after 'V200R010C00'"),
    ("- {id: X, platform: cisco_ios, severity: low, title: t, affected: [{from: 15.2(4)M1, to: 15.2(7)E4}]}",
     "<advisories>: entry 1 (X): affected[0]: '15.2(4)M1' and '15.2(7)E4' are of different release trains"),
    ("- {id: X, platform: huawei_vrp, severity: low, title: t, cve: 1, affected: [{to: V200R019C10}]}",
     "<advisories>: entry 1 (X): cve: unknown field (known: id, platform, severity, title, url, models, affected)"),
    ("- id: X\n  platform: [huawei_vrp\n", "<advisories>: line 3: -: not YAML"),
    ("id: X", "<advisories>: file: -: must be a list of advisories"),
])
def test_a_broken_file_names_file_entry_and_field(text: str, message: str) -> None:
    with pytest.raises(AdvisoryFileError) as caught:
        parse_advisories(text)
    assert str(caught.value).startswith(message)


def test_a_duplicate_id_is_refused_and_the_second_entry_named() -> None:
    one = "- {id: X, platform: huawei_vrp, severity: low, title: t, affected: [{to: V200R019C10}]}\n"
    with pytest.raises(AdvisoryFileError, match=r"entry 2 \(X\): id: 'X' is listed twice"):
        parse_advisories(one + one)


def test_the_example_file_loads_and_a_missing_file_is_named(tmp_path: Path) -> None:
    advisories = load_advisories(EXAMPLE)
    assert {a.platform for a in advisories} == {"huawei_vrp", "cisco_ios"}
    hit = firmware_advisory("huawei_vrp", "V200R005C00SPC500", advisories, "S5700-28C-EI")
    assert hit.status == "fail" and "huawei-sa-20210519-02-dos" in hit.detail
    assert firmware_advisory("huawei_vrp", "V200R019C10SPC500", advisories, "S5735-L48T4X").status == "pass"
    with pytest.raises(AdvisoryFileError, match="cannot be read"):
        load_advisories(tmp_path / "absent.yaml")


def test_the_version_comes_from_the_ssh_facts_sample() -> None:
    tags = (("device", "r1"), ("model", "S5735-L48T4X"), ("version", "V200R019C10SPC500"))
    samples = [Sample("ssh_device", (("device", "r1"),), {"uptime_seconds": 1.0}, 1),
               Sample("device_facts", tags, {"info": 1.0}, 1)]
    assert version_of(samples) == ("V200R019C10SPC500", "S5735-L48T4X")
    assert version_of(samples[:1]) == (None, None)
