"""Where the catalogue's platform cell is narrower or looser than its "passes when" sentence, the cell is what is
implemented (the closing note of stop 19 lists these as catalogue questions): these pin each one."""

from __future__ import annotations

from datetime import date

import pytest

from yiwang.compliance.evaluate import evaluate
from yiwang.compliance.pack import load_pack

PACK = load_pack()


def status(text: str, platform: str, rule: str) -> str:
    report = evaluate(text, platform, PACK, device="d", today=date(2026, 11, 30))
    return next(r.status for r in report.results if r.rule == rule)


@pytest.mark.parametrize(("platform", "text", "expected"), [
    # VRP's cell names con/vty: an aux line without timeout is not judged
    ("huawei_vrp", "#\nuser-interface con 0\n idle-timeout 5 0\nuser-interface aux 0\n idle-timeout 0 0\n"
                   "user-interface vty 0 4\n idle-timeout 5 0\n#\nreturn\n", "pass"),
    # Comware's cell names con/aux/vty: the same aux line fails
    ("hp_comware", "#\nline con 0\n idle-timeout 5 0\n#\nline aux 0\n idle-timeout 0 0\n#\nline vty 0 63\n"
                   " idle-timeout 5 0\n#\nreturn\n", "fail"),
    # IOS's cell names con/vty
    ("cisco_ios", "!\nline con 0\n exec-timeout 5 0\nline aux 0\n exec-timeout 0 0\nline vty 0 4\n"
                  " exec-timeout 5 0\n!\nend\n", "pass"),
])
def test_idle_timeout_judges_the_lines_each_platform_cell_names(platform: str, text: str, expected: str) -> None:
    assert status(text, platform, "idle-timeout") == expected


def test_comware_ageing_of_zero_passes_by_the_letter_and_vrp_zero_fails() -> None:
    comware = ("#\n password-control enable\n password-control length 10\n password-control aging 0\n#\nreturn\n")
    assert status(comware, "hp_comware", "pw-policy") == "pass"
    vrp = ("#\naaa\n local-aaa-user password policy administrator\n  password expire 0\n#\nreturn\n")
    assert status(vrp, "huawei_vrp", "pw-policy") == "fail"


def test_vrp_central_aaa_takes_a_template_of_either_kind() -> None:
    text = ("#\nradius-server template rad1\n#\naaa\n authentication-scheme default\n"
            "  authentication-mode hwtacacs local\n#\nreturn\n")
    assert status(text, "huawei_vrp", "central-aaa") == "pass"
    local_first = text.replace("authentication-mode hwtacacs local", "authentication-mode local hwtacacs")
    assert status(local_first, "huawei_vrp", "central-aaa") == "fail"
