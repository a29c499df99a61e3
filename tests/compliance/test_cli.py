"""`yiwang check compliance --file … --platform … [--json]` as a person or a script runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

CASES = Path(__file__).parent / "cases"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "yiwang", "check", "compliance", *args], capture_output=True,
                          text=True, timeout=60, env={"COLUMNS": "200", "PATH": "/usr/bin:/bin",
                                                      "PYTHONPATH": str(Path(__file__).parents[2])})


def test_json_is_the_issues_shape() -> None:
    done = _run("--file", str(CASES / "cisco_ios" / "neglected" / "config.txt"), "--platform", "cisco_ios", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert set(report) == {"device", "platform", "results"}
    assert (report["device"], report["platform"]) == ("config", "cisco_ios")
    results = {r["rule"]: r for r in report["results"]}
    assert len(results) == 13
    assert results["insecure-services-off"] == {"rule": "insecure-services-off", "status": "fail",
                                                "evidence": [{"line": 18, "text": "ip http server"}],
                                                "remediation": ["no ip http server"], "severity": "medium"}
    assert results["ntp-server"]["evidence"] == [{"missing": None}]
    assert results["snmp-v3-priv-only"]["severity"] == "critical"
    for result in report["results"]:
        assert set(result) <= {"rule", "status", "evidence", "remediation", "detail", "severity", "exemption"}
        assert result["status"] in ("pass", "fail", "not-applicable", "exempt", "error")


def test_the_table_escapes_what_the_device_wrote(tmp_path: Path) -> None:
    config = tmp_path / "[bold]sw1.cfg"
    config.write_text("!\nhostname sw1\nusername [red]ops password 0 x\nline vty 0 4\n transport input ssh\n!\nend\n")
    done = _run("--file", str(config), "--platform", "ruijie_os")
    assert done.returncode == 0, done.stderr
    assert "[bold]sw1" in done.stdout and "规则 rule" in done.stdout and "整改 remediation" in done.stdout
    assert "不通过 fail" in done.stdout and "username [red]ops password 0 ******" in done.stdout


def test_a_truncated_file_errors_every_rule_and_a_bad_platform_is_refused() -> None:
    done = _run("--file", str(CASES / "hp_comware" / "truncated" / "config.txt"), "--platform", "hp_comware", "--json")
    assert {r["status"] for r in json.loads(done.stdout)["results"]} == {"error"}
    done = _run("--file", str(CASES / "hp_comware" / "truncated" / "config.txt"), "--platform", "h3c")
    assert done.returncode == 2 and "unknown platform" in done.stderr
