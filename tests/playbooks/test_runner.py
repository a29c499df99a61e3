"""A wave through ansible-runner as a change job runs it (`yiwang.change.runner.run_wave`): the lab's devices of
every platform, the outcome read from the play's last task, a device the play cannot reach reported with why, and
a dry run that carries the diff; no private data folder left behind."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.playbooks.conftest import SmallLab
from tests.playbooks.test_e2e import Lab
from yiwang.change.runner import OUTCOME_TASK, outcomes_of, run_wave

PLAY = f"""
- name: A wave of a change
  hosts: lab_devices
  connection: local
  gather_facts: false
  tasks:
    - name: Push
      yiwang.extranet.config:
        parents: ["interface {{{{ port }}}}"]
        lines: ["description {{{{ wave_marker }}}}"]
      register: pushed
    - name: {OUTCOME_TASK}
      ansible.builtin.debug:
        msg:
          outcome: ok
          detail: "pushed {{{{ pushed.commands | length }}}} lines"
          commands: "{{{{ pushed.commands }}}}"
          rollback: "{{{{ pushed.rollback }}}}"
"""


@pytest.fixture(scope="module")
def project(small_lab: SmallLab, tmp_path_factory: pytest.TempPathFactory) -> tuple[Lab, Path]:
    lab = Lab(small_lab, tmp_path_factory.mktemp("runner-lab"))
    folder = tmp_path_factory.mktemp("runner-playbooks")
    (folder / "wave.yml").write_text(PLAY)
    root = Path(__file__).resolve().parents[2] / "playbooks"
    (folder / "ansible.cfg").write_text((root / "ansible.cfg").read_text().replace(
        "./collections", str(root / "collections")))
    return lab, folder


def test_a_wave_dry_run_then_pushed(project: tuple[Lab, Path], tmp_path: Path) -> None:
    lab, folder = project
    devices = sorted(lab.devices)
    inventory = tmp_path / "hosts.yaml"
    document = yaml.safe_load(lab.inventory.read_text())
    document["all"]["children"]["lab_devices"]["hosts"]["ghost-router"] = {
        "ansible_host": "127.0.0.1", "ansible_port": 1, "yiwang_platform": "huawei_vrp",
        "yiwang_credential": next(iter(document["all"]["children"]["lab_devices"]["hosts"].values()))[
            "yiwang_credential"], "port": "GigabitEthernet0/0/1"}
    inventory.write_text(yaml.safe_dump(document))
    events: list[dict[str, Any]] = []
    marker = f"wave {tmp_path.name}"
    before = {name: lab.running(name) for name in devices}

    dry = run_wave(folder, "wave.yml", inventory, [*devices, "ghost-router"], check=True,
                   extravars={"wave_marker": marker}, on_event=events.append, work_root=tmp_path)
    for name in devices:
        assert dry.outcomes[name].state == "ok", dry.outcomes[name]
        assert f"description {marker}" in "\n".join(dry.outcomes[name].commands)
        assert marker in dry.outcomes[name].diff  # the dry run's diff, for the plan
        assert lab.running(name) == before[name]  # check mode pushed nothing
    ghost = dry.outcomes["ghost-router"]
    assert ghost.state == "failed" and ghost.detail.startswith("Push:"), ghost
    assert any(e.get("event") == "runner_on_ok" for e in events)  # passed on live, for the job's stream
    assert lab.small.password not in json.dumps(events)

    pushed = run_wave(folder, "wave.yml", inventory, devices, extravars={"wave_marker": marker}, work_root=tmp_path)
    assert {name: o.state for name, o in pushed.outcomes.items()} == dict.fromkeys(devices, "ok")
    assert all(pushed.changed.get(name) for name in devices)
    for name in devices:
        assert f"description {marker}" in lab.running(name)
        assert pushed.outcomes[name].rollback  # the lines that undo it, for the job's rollback
    again = run_wave(folder, "wave.yml", inventory, devices, extravars={"wave_marker": marker}, work_root=tmp_path)
    assert not any(again.changed.values()) and all(o.detail == "pushed 0 lines" for o in again.outcomes.values())
    assert list(tmp_path.glob("yiwang-wave-*")) == []  # private data folders removed: no artifacts left


def test_outcomes_from_events_a_play_could_send() -> None:
    events = [
        {"event": "runner_on_ok", "event_data": {"host": "a", "task": OUTCOME_TASK,
                                                 "res": {"msg": {"outcome": "rolled-back", "detail": "ping\nfailed",
                                                                 "commands": ["x"], "rollback": ["undo x"]}}}},
        {"event": "runner_on_ok", "event_data": {"host": "b", "task": OUTCOME_TASK, "res": {"msg": "done"}}},
        {"event": "runner_on_failed", "event_data": {"host": "c", "task": "Push", "ignore_errors": True,
                                                     "res": {"msg": "ignored"}}},
        {"event": "runner_on_unreachable", "event_data": {"host": "d", "task": "Push",
                                                          "res": {"msg": "timed out"}}},
        {"event": "runner_on_ok", "event_data": {"host": "elsewhere", "task": OUTCOME_TASK,
                                                 "res": {"msg": {"outcome": "ok"}}}},
    ]
    found = outcomes_of(events, ["a", "b", "c", "d"])
    assert (found["a"].state, found["a"].detail, found["a"].rollback) == ("rolled-back", "ping failed", ("undo x",))
    assert found["b"].state == "failed" and "not one yiwang knows" in found["b"].detail
    assert found["c"].state == "failed" and "never reached" in found["c"].detail  # an ignored failure is no cause
    assert found["d"].detail == "unreachable: timed out"
    assert "elsewhere" not in found
