import json
from pathlib import Path
from typing import Any

import pytest

from collectors.snmp.profile import ProfileError, load_profiles, parse_profile
from collectors.snmp.rates import CounterMemory
from collectors.snmp.samples import fallback_plan, table_labels, table_samples, text_of

CASES = Path(__file__).parent / "cases"
PROFILES = load_profiles()


def _value(raw: Any) -> Any:
    # {"hex": "..."} is an OCTET STRING as the codec hands it over (bytes), e.g. a Windows name ending in 00
    return bytes.fromhex(raw["hex"]) if isinstance(raw, dict) else raw


def _walked(raw: dict) -> dict:
    return {oid: [(index, _value(value)) for index, value in rows] for oid, rows in raw.items()}


@pytest.mark.parametrize("case", sorted(p.name for p in CASES.iterdir() if (p / "input.json").exists()))
def test_case(case: str) -> None:
    """input.json: the walks of each poll; expected.json: the samples of the last poll; expected_plan.json (if
    present): per table, the fallback columns the last walk showed a need for and the primaries that answered
    nothing, which decide what the device's next walk reads."""
    spec = json.loads((CASES / case / "input.json").read_text())
    profile = PROFILES[spec["profile"]]
    memory = CounterMemory()
    samples = []
    plans = []
    for poll in spec["polls"]:
        memory.observe_uptime(poll["uptime"])
        samples = []
        plans = []
        walked = _walked(poll["walked"])
        for table in profile.tables:
            labels = table_labels(table, _walked(spec["labels"]))
            samples += table_samples(table, walked, labels, spec["base_tags"], poll["time_ns"], memory)
            needed, silent = fallback_plan(table, walked)
            plans.append({"needed": sorted(needed), "silent": sorted(silent)})
    got = [{"measurement": s.measurement, "tags": dict(s.tags), "fields": dict(s.fields)} for s in samples]
    assert got == json.loads((CASES / case / "expected.json").read_text())
    assert all(s.tags == tuple(sorted(s.tags)) for s in samples)
    if (CASES / case / "expected_plan.json").exists():
        assert plans == json.loads((CASES / case / "expected_plan.json").read_text())


def test_builtin_profiles_poll_only_needed_columns() -> None:
    table = PROFILES["if-mib"].tables[0]
    primaries = [c.oid for c in table.columns]
    assert len(primaries) == 11
    assert "1.3.6.1.2.1.31.1.1.1.6" in primaries  # ifHCInOctets, not the 32-bit ifInOctets
    assert "1.3.6.1.2.1.2.2.1.10" not in primaries  # ifInOctets: only a fallback, walked when a row needs it
    fallbacks = {c.name: c.fallback.oid for c in table.columns if c.fallback is not None}
    assert fallbacks == {
        "in_octets_total": "1.3.6.1.2.1.2.2.1.10", "in_unicast_packets_total": "1.3.6.1.2.1.2.2.1.11",
        "out_octets_total": "1.3.6.1.2.1.2.2.1.16", "out_unicast_packets_total": "1.3.6.1.2.1.2.2.1.17",
        "speed_mbps": "1.3.6.1.2.1.2.2.1.5"}
    assert set(PROFILES) >= {"system", "if-mib", "host-resources", "huawei-entity", "h3c-entity"}


def test_strings_lose_the_trailing_nul_of_windows_agents() -> None:
    assert text_of(b"Intel(R) PRO/1000 MT Network Connection\x00") == "Intel(R) PRO/1000 MT Network Connection"
    assert text_of(b"padded\x00\x00\x00") == "padded"
    assert text_of("a\x00b\x00") == "a\x00b"  # only the terminator goes; escaping the rest is the sinks' job
    assert text_of(b"\x00") == ""


@pytest.mark.parametrize(("spec", "message"), [
    ({"oid": "1.3.6.1.2.1.31.1.1.1.6", "type": "counter64", "fallback": {"oid": "1.3.6.1.2.1.2.2.1.5"}},
     "a counter's fallback is a counter"),
    ({"oid": "1.3.6.1.2.1.31.1.1.1.15", "fallback": {"oid": "1.3.6.1.2.1.2.2.1.5", "rate": "x"}}, "unknown key"),
    ({"oid": "1.3.6.1.2.1.31.1.1.1.6", "type": "counter64", "divide": 8}, "only a gauge's value is divided"),
    ({"oid": "1.3.6.1.2.1.2.2.1.5", "unknown": "4294967295"}, "must be a list of integers"),
])
def test_fallback_mistakes_name_the_field(spec: dict, message: str) -> None:
    document = {"name": "x", "measurement": "m", "index_tag": "i", "columns": {"c": spec}}
    with pytest.raises(ProfileError, match=message):
        parse_profile(document, "x.yaml")


def test_scalars_have_no_fallback() -> None:
    document = {"name": "x", "scalars": {"up": {"oid": "1.3.6.1.2.1.1.3.0", "type": "timeticks",
                                                "fallback": {"oid": "1.3.6.1.2.1.25.1.1.0", "type": "timeticks"}}}}
    with pytest.raises(ProfileError, match="only table columns have fallbacks"):
        parse_profile(document, "x.yaml")
