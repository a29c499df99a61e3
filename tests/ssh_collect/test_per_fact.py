"""A failure per fact: one command that defeats its reader costs that fact only, named with its command."""

from __future__ import annotations

from pathlib import Path

from collectors.platforms import cli_of
from collectors.ssh.parse import parse_all, to_samples

CASES = Path(__file__).parent / "cases"
TAGS = (("device", "r1"), ("platform", "cisco_ios"))


def _outputs(platform: str) -> dict[str, str]:
    return {kind: (CASES / f"{platform}-{kind}" / "raw.txt").read_text(encoding="utf-8")
            for kind in cli_of(platform).show if (CASES / f"{platform}-{kind}" / "raw.txt").exists()}


def test_a_version_that_defeats_the_reader_leaves_the_other_facts() -> None:
    outputs = _outputs("cisco_ios")
    outputs["version"] = "Cisco IOS Software, something nobody has seen\nno hardware, no uptime\n"
    report = parse_all("cisco_ios", outputs)
    assert report.facts is None and set(report.failures) == {"version"}
    assert report.failures["version"].startswith("show version: ")
    assert report.interfaces and report.arp_entries is not None and report.optics is not None
    samples = to_samples(report, TAGS, 1, {k: cli_of("cisco_ios").show[k] for k in outputs})
    device = next(s for s in samples if s.measurement == "ssh_device")
    assert "interfaces_up" in device.fields and "uptime_seconds" not in device.fields
    parsed = {s.tag("kind"): s.fields["parsed"] for s in samples if s.measurement == "ssh_command"}
    assert parsed["version"] == 0.0 and parsed["interfaces"] == 1.0
    assert not [s for s in samples if s.measurement == "device_facts"]


def test_a_refused_command_says_what_the_device_said() -> None:
    outputs = _outputs("cisco_ios")
    outputs["transceiver"] = ("show interfaces transceiver\n                      ^\n"
                              "% Invalid input detected at '^' marker.\n")
    report = parse_all("cisco_ios", outputs)
    assert set(report.failures) == {"transceiver"}
    assert "Invalid input detected" in report.failures["transceiver"]
    assert report.facts is not None
