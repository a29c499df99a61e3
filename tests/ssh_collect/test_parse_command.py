"""`yiwang ssh parse` as an operator runs it: a real captured output in, the facts out (JSON or a table)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REAL = Path(__file__).parent / "real"


def _yiwang(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "yiwang", "ssh", "parse", *args], capture_output=True, text=True,
                          input=stdin, timeout=120, check=False)


def _cases(platform: str, kind: str) -> list[Path]:
    return sorted(p.parent for p in (REAL / platform / kind).glob("*/raw.txt"))


def test_json_is_what_the_collector_reads() -> None:
    checked = 0
    for platform, kind, command in (("huawei_vrp", "version", "display version"),
                                    ("cisco_ios", "interfaces", "show ip interface brief"),
                                    ("ruijie_os", "version", "show version")):
        for case in _cases(platform, kind)[:2]:
            done = _yiwang("--platform", platform, "--command", command, str(case / "raw.txt"), "--json")
            assert done.returncode == 0, done.stderr
            assert json.loads(done.stdout) == json.loads((case / "expected.json").read_text(encoding="utf-8"))
            checked += 1
    assert checked >= 3


def test_a_table_for_people_and_the_spelling_of_the_command_is_forgiven() -> None:
    case = _cases("cisco_ios", "interfaces")[0]
    done = _yiwang("--platform", "cisco_ios", "--command", "  SHOW ip  interface brief ", str(case / "raw.txt"))
    assert done.returncode == 0, done.stderr
    expected = json.loads((case / "expected.json").read_text(encoding="utf-8"))
    assert expected[0]["name"] in done.stdout and f"{len(expected)} 行 rows" in done.stdout


def test_output_from_standard_input_and_numbers_as_numbers() -> None:
    case = _cases("huawei_vrp", "version")[0]
    done = _yiwang("--platform", "huawei_vrp", "--command", "display version", "-", "--json",
                   stdin=(case / "raw.txt").read_text(encoding="utf-8"))
    assert done.returncode == 0, done.stderr
    facts = json.loads(done.stdout)
    assert isinstance(facts["uptime_s"], float | int) and facts["model"]


def test_what_it_cannot_read_is_said_precisely() -> None:
    wrong = _yiwang("--platform", "cisco_ios", "--command", "show version", "-", stdin="% Invalid input detected "
                    "at '^' marker.\n")
    assert wrong.returncode == 1 and "cannot parse" in wrong.stderr and "refused" in wrong.stderr
    unknown = _yiwang("--platform", "cisco_ios", "--command", "show clock", "-", stdin="")
    assert unknown.returncode == 2 and "show version" in unknown.stderr
    platform = _yiwang("--platform", "junos", "--command", "show version", "-", stdin="")
    assert platform.returncode == 2 and "huawei_vrp" in platform.stderr
