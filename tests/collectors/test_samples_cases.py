import json
from pathlib import Path

import pytest

from collectors.snmp.profile import load_profiles
from collectors.snmp.rates import CounterMemory
from collectors.snmp.samples import table_labels, table_samples

CASES = Path(__file__).parent / "cases"
PROFILES = load_profiles()


def _walked(raw: dict) -> dict:
    return {oid: [(index, value) for index, value in rows] for oid, rows in raw.items()}


@pytest.mark.parametrize("case", sorted(p.name for p in CASES.iterdir()))
def test_case(case: str) -> None:
    spec = json.loads((CASES / case / "input.json").read_text())
    profile = PROFILES[spec["profile"]]
    memory = CounterMemory()
    samples = []
    for poll in spec["polls"]:
        memory.observe_uptime(poll["uptime"])
        samples = []
        for table in profile.tables:
            labels = table_labels(table, _walked(spec["labels"]))
            samples += table_samples(table, _walked(poll["walked"]), labels, spec["base_tags"], poll["time_ns"], memory)
    got = [{"measurement": s.measurement, "tags": dict(s.tags), "fields": dict(s.fields)} for s in samples]
    assert got == json.loads((CASES / case / "expected.json").read_text())
    assert all(s.tags == tuple(sorted(s.tags)) for s in samples)


def test_builtin_profiles_poll_only_needed_columns() -> None:
    if_mib = PROFILES["if-mib"]
    assert len(if_mib.walk_columns()) == 11
    assert "1.3.6.1.2.1.31.1.1.1.6" in if_mib.walk_columns()  # ifHCInOctets, not the 32-bit ifInOctets
    assert "1.3.6.1.2.1.2.2.1.10" not in if_mib.walk_columns()
    assert set(PROFILES) >= {"system", "if-mib", "host-resources", "huawei-entity", "h3c-entity"}
