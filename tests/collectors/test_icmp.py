import json
from pathlib import Path

import pytest

from collectors.base import PollTarget
from collectors.icmp import FpingCollector, PingFigures, parse_fping, results_from

CASES = Path(__file__).parent / "fping_cases"


@pytest.mark.parametrize("case", sorted(p.name for p in CASES.iterdir()))
def test_parse_case(case: str) -> None:
    got = parse_fping((CASES / case / "output.txt").read_text(), 3)
    expected = json.loads((CASES / case / "expected.json").read_text())
    assert set(got) == set(expected)
    for address, figures in expected.items():
        assert got[address].sent == figures["sent"] and got[address].received == figures["received"]
        if figures["avg_rtt_s"] is None:
            assert got[address].avg_rtt_s is None
        else:
            assert got[address].avg_rtt_s == pytest.approx(figures["avg_rtt_s"], rel=1e-3)


def test_dual_stack_device_is_up_when_either_family_answers() -> None:
    target = PollTarget("pe01", "127.16.0.2", (("device", "pe01"),), host6="::1")
    figures = {"127.16.0.2": PingFigures(3, 0, None), "::1": PingFigures(3, 3, 0.0001)}
    [result] = results_from([target], figures, 3, 0.1)
    assert result.ok
    assert {s.tag("family"): s.fields["up"] for s in result.samples} == {"ipv4": 0.0, "ipv6": 1.0}
    assert "127.16.0.2" in result.error


async def test_real_fping_over_ipv4_and_ipv6() -> None:
    targets = [PollTarget("a", "127.0.0.1", (("device", "a"),)), PollTarget("b", "::1", (("device", "b"),))]
    results = {r.device: r for r in await FpingCollector(count=2).poll_batch(targets)}
    assert results["a"].ok and results["b"].ok
    [sample] = results["b"].samples
    assert sample.tag("family") == "ipv6" and sample.fields["loss_ratio"] == 0.0 and sample.fields["rtt_seconds"] > 0


async def test_missing_fping_fails_every_target_with_the_reason() -> None:
    targets = [PollTarget("a", "127.0.0.1", ())]
    [result] = await FpingCollector(binary="no-such-fping").poll_batch(targets)
    assert not result.ok and result.reason == "icmp-error" and "fping" in result.error
