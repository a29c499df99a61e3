"""The collection against the small lab's SSH devices, one of each platform, through `ansible-playbook` (and
ansible-runner where it is installed): check mode shows the real diff and changes nothing, a run changes the
device, the next run changes nothing, a refused line is rolled back, and the credential never shows."""

from __future__ import annotations

import json
import random
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from collectors.platforms import SSH_PLATFORMS, cli_of
from collectors.ssh.session import SessionSettings, fetch
from tests.playbooks.conftest import PLAYBOOKS, SmallLab, ansible_env, ansible_tool
from yiwang.archive.normalize import normalize
from yiwang.push.access import access_of
from yiwang.push.plan import as_printed

pytestmark = pytest.mark.integration

CHANGE = """
- name: Describe and dual-stack the first port
  hosts: lab_devices
  connection: local
  gather_facts: false
  tasks:
    - name: Lay the lines over the running configuration
      yiwang.extranet.config:
        parents: ["interface {{ port }}"]
        lines: "{{ port_lines }}"
        save: "{{ save | default(false) }}"
      register: pushed
"""
FACTS = """
- name: Read the devices
  hosts: lab_devices
  connection: local
  gather_facts: false
  tasks:
    - name: Facts through yiwang's readers
      yiwang.extranet.facts:
"""
SHOW = """
- name: Read the devices
  hosts: lab_devices
  connection: local
  gather_facts: false
  tasks:
    - name: The version command, parsed
      yiwang.extranet.command:
        commands: ["{{ version_command }}", "{{ config_command }}"]
"""


def hostvars_of(hosts: Path) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for group in yaml.safe_load(hosts.read_text())["all"]["children"].values():
        for name, variables in (group.get("hosts") or {}).items():
            if variables:
                found[name] = variables
    return found


class Lab:
    """One device of each SSH platform, an inventory of just them, and a way to read each one's configuration."""

    def __init__(self, small: SmallLab, work: Path) -> None:
        self.small, self.work = small, work
        every = hostvars_of(small.hosts)
        self.hostvars = {platform: next((name, v) for name, v in sorted(every.items())
                                        if v.get("yiwang_platform") == platform and "." in str(v["ansible_host"]))
                         for platform in SSH_PLATFORMS}
        self.devices = {name: platform for platform, (name, _) in self.hostvars.items()}
        self.ports = {name: self.first_port(name) for name in self.devices}
        inventory = {"all": {"children": {"lab_devices": {"hosts": {
            name: {**variables, "port": self.ports[name], "version_command": cli_of(platform).show["version"],
                   "config_command": cli_of(platform).config_command}
            for platform, (name, variables) in self.hostvars.items()}}}}}
        self.inventory = work / "hosts.yaml"
        self.inventory.write_text(yaml.safe_dump(inventory))

    def access(self, name: str) -> Any:
        return access_of(name, self.hostvars[self.devices[name]][1])

    def show(self, name: str, command: str) -> str:
        access = self.access(name)
        settings = SessionSettings(self.work / "ssh", read_timeout=30)
        (text,) = fetch(access.endpoint, [command], settings)
        return normalize(access.endpoint.platform, text)

    def running(self, name: str) -> str:
        return self.show(name, cli_of(self.devices[name]).config_command)

    def first_port(self, name: str) -> str:
        return next(line for line in self.running(name).splitlines() if line.startswith("interface "))[10:]

    def playbook(self, text: str, *args: str, host_vars: dict[str, dict[str, Any]] | None = None,
                 templates: dict[str, str] | None = None) -> Run:
        """`ansible-playbook` as an engineer runs it, the text callback's output kept, and each host's result of
        the (last) task as the builtin `tree` callback writes it."""
        run = self.work / f"run-{random.randint(10**5, 10**6)}"
        (run / "host_vars").mkdir(parents=True)
        for name, variables in (host_vars or {}).items():
            (run / "host_vars" / f"{name}.yaml").write_text(yaml.safe_dump(variables))
        (run / "play.yml").write_text(text)
        (run / "templates").mkdir()
        for name, template in (templates or {}).items():
            (run / "templates" / name).write_text(template)
        tree = {"ANSIBLE_CALLBACKS_ENABLED": "ansible.builtin.tree", "ANSIBLE_CALLBACK_TREE_DIR": str(run / "tree")}
        done = subprocess.run([ansible_tool("ansible-playbook"), "-i", str(self.inventory), str(run / "play.yml"),
                               *args], capture_output=True, text=True, timeout=300, cwd=run,
                              env=ansible_env(self.work, **tree))
        results = {p.name: json.loads(p.read_text()) for p in (run / "tree").glob("*")} if (run / "tree").exists() \
            else {}
        return Run(done.returncode, done.stdout, done.stderr, results)


@dataclass(frozen=True)
class Run:
    returncode: int
    stdout: str
    stderr: str
    results: dict[str, dict[str, Any]]

    def recap(self, host: str) -> dict[str, int]:
        line = next(line for line in self.stdout.splitlines() if line.startswith(host + " ") and "ok=" in line)
        return {key: int(value) for key, value in (item.split("=") for item in line.split(":", 1)[1].split())}


def without_stamps(config: str) -> list[str]:
    return [line for line in config.splitlines() if "Last configuration" not in line]


@pytest.fixture(scope="module")
def lab(small_lab: SmallLab, tmp_path_factory: pytest.TempPathFactory) -> Lab:
    return Lab(small_lab, tmp_path_factory.mktemp("playbooks-run"))


@pytest.fixture(scope="module")
def marker() -> str:
    return f"dual-stack uplink {random.randint(1000, 9999)}"


def port_lines(lab: Lab, marker: str) -> dict[str, dict[str, Any]]:
    """Typed as a person would (lower-case address); Comware 7 has no interface `ipv6 enable` (an address is
    enough), the others need it."""
    return {name: {"port_lines": [f"description {marker}",
                                  *(["ipv6 enable"] if lab.devices[name] != "hp_comware" else []),
                                  f"ipv6 address 2001:db8:{index}::1/64"]}
            for index, name in enumerate(sorted(lab.devices), start=1)}


def test_check_mode_shows_the_diff_and_changes_nothing(lab: Lab, marker: str) -> None:
    before = {name: lab.running(name) for name in lab.devices}
    done = lab.playbook(CHANGE, "--check", "--diff", host_vars=port_lines(lab, marker))
    assert done.returncode == 0, done.stdout[-3000:]
    for name in lab.devices:
        assert done.recap(name)["changed"] == 1
        assert done.results[name]["commands"][0] == f"interface {lab.ports[name]}"
        assert "saved" in done.results[name] and not done.results[name]["saved"]
        assert without_stamps(lab.running(name)) == without_stamps(before[name])
    assert done.stdout.count(f"+  description {marker}") == len(lab.devices)


def test_apply_changes_the_devices_and_the_next_run_changes_nothing(lab: Lab, marker: str) -> None:
    wanted = port_lines(lab, marker)
    done = lab.playbook(CHANGE, "--diff", "-e", "save=true", host_vars=wanted)
    assert done.returncode == 0, done.stdout[-3000:]
    for name, result in done.results.items():
        assert result["changed"] and result["converged"] and result["saved"], result
        assert result["commands"][0] == f"interface {lab.ports[name]}"
        assert result["rollback"][0] == f"interface {lab.ports[name]}"
        running = lab.running(name)
        for line in wanted[name]["port_lines"]:
            assert f" {as_printed(line)}\n" in running
        assert f"description {marker}" in lab.show(name, cli_of(lab.devices[name]).startup_command)
    again = lab.playbook(CHANGE, host_vars=wanted)
    assert again.returncode == 0, again.stdout[-3000:]
    assert {name: r["changed"] for name, r in again.results.items()} == dict.fromkeys(lab.devices, False)
    assert all(r["commands"] == [] for r in again.results.values())
    assert all(again.recap(name)["changed"] == 0 for name in lab.devices)


def test_a_refused_line_is_rolled_back(lab: Lab, marker: str) -> None:
    """A line the device's grammar refuses (a rate that is not a number), after one it took: the first is put
    back, from the same session."""
    before = {name: lab.running(name) for name in lab.devices}
    refused = {name: {"port_lines": [f"description {marker} changed",
                                     "qos lr outbound cir fast" if cli_of(platform).family == "vrp"
                                     else "bandwidth fast"]}
               for name, platform in lab.devices.items()}
    done = lab.playbook(CHANGE, host_vars=refused)
    assert done.returncode == 2, done.stdout[-3000:]
    assert set(done.results) == set(lab.devices)
    for name, result in done.results.items():
        assert done.recap(name)["failed"] == 1
        assert result["rolled_back"] and not result["changed"], result  # the tree callback drops `failed`
        assert result["rejected_line"] == refused[name]["port_lines"][1]
        assert result["device_error"].startswith(("Error:", "%")), result["device_error"]
        assert result["rejected_line"] in result["msg"] and "rolled back" in result["msg"]
        assert result["rollback_sent"] == [f"interface {lab.ports[name]}", f"  description {marker}"]
        assert result["left_over"] == []
        assert without_stamps(lab.running(name)) == without_stamps(before[name])


FROM_TEMPLATE = """
- name: Render the change from a template of the platform
  hosts: lab_devices
  connection: local
  gather_facts: false
  tasks:
    - name: Lay the template over the running configuration
      yiwang.extranet.config:
        src: "{{ yiwang_platform }}.j2"
"""


def test_a_template_is_rendered_with_the_host_variables(lab: Lab, marker: str) -> None:
    templates = {f"{platform}.j2": "interface {{ port }}\n description " + platform + " {{ inventory_hostname }}\n"
                 + ("{% if yiwang_platform in ('huawei_vrp', 'hp_comware') %} undo shutdown\n{% endif %}")
                 for platform in SSH_PLATFORMS}
    done = lab.playbook(FROM_TEMPLATE, "--check", templates=templates)
    assert done.returncode == 0, done.stdout[-3000:]
    for name, platform in lab.devices.items():
        assert done.results[name]["commands"] == [f"interface {lab.ports[name]}", f"  description {platform} {name}"]
    broken = lab.playbook(FROM_TEMPLATE, "--check", templates={f"{p}.j2": "{{ no_such_variable }}"
                                                               for p in SSH_PLATFORMS})
    assert broken.returncode == 2
    assert all("no_such_variable" in r["msg"] for r in broken.results.values())


def test_facts_and_commands_through_yiwang_readers(lab: Lab) -> None:
    facts_run, show_run = lab.playbook(FACTS, "--check"), lab.playbook(SHOW, "--check")
    assert facts_run.returncode == 0 and show_run.returncode == 0, facts_run.stdout[-3000:] + show_run.stdout[-3000:]
    facts, shown = facts_run.results, show_run.results
    for name in lab.devices:
        assert facts[name]["ansible_facts"]["yiwang_facts"]["version"], facts[name]
        assert facts[name]["ansible_facts"]["yiwang_interfaces"], facts[name]
        assert facts[name]["parse_failures"] == {}
        version, config = shown[name]["parsed"]
        assert version["version"] == facts[name]["ansible_facts"]["yiwang_facts"]["version"]
        assert config is None  # yiwang has no reader of a whole configuration
        assert f"interface {lab.ports[name]}" in shown[name]["stdout"][1]


def test_the_credential_never_shows_even_at_vvvv(lab: Lab, marker: str) -> None:
    assert len(lab.small.password) >= 16
    done = lab.playbook(CHANGE, "-vvvv", "--check", "--diff", host_vars=port_lines(lab, f"{marker} at vvvv"))
    assert done.returncode == 0, done.stdout[-3000:]
    assert all(done.recap(name)["changed"] == 1 for name in lab.devices)  # the plugins did run, and talked
    assert "yiwang_credential" not in done.stdout  # the reference stays in the inventory, too
    assert lab.small.password not in done.stdout + done.stderr


def test_ansible_runner_keeps_the_credential_out_of_events_and_artifacts(lab: Lab, marker: str,
                                                                         tmp_path: Path) -> None:
    import ansible_runner as runner
    project = tmp_path / "project"
    project.mkdir()
    (project / "change.yml").write_text(CHANGE)
    host_vars = tmp_path / "inventory" / "host_vars"
    host_vars.mkdir(parents=True)
    (tmp_path / "inventory" / "hosts.yaml").write_text(lab.inventory.read_text())
    for name, variables in port_lines(lab, f"{marker} via runner").items():
        (host_vars / f"{name}.yaml").write_text(yaml.safe_dump(variables))
    events: list[dict[str, Any]] = []

    def keep(event: dict[str, Any]) -> bool:
        events.append(event)  # what a job's Server-Sent Events would carry
        return True

    env = ansible_env(lab.work)
    result = runner.run(private_data_dir=str(tmp_path), playbook="change.yml", verbosity=4, quiet=True,
                        envvars={k: env[k] for k in ("PATH", "PYTHONPATH", "ANSIBLE_CONFIG")},
                        suppress_env_files=True, event_handler=keep,
                        cmdline="--check --diff")
    assert result.rc == 0, result.stdout.read()[-3000:]
    changed = [e for e in events if e.get("event") == "runner_on_ok" and e["event_data"]["res"].get("changed")]
    assert {e["event_data"]["host"] for e in changed} == set(lab.devices)
    assert all(e["event_data"]["res"]["diff"] for e in changed)  # the diff reaches the event handler
    assert lab.small.password not in json.dumps(events)
    leaked = [p for p in tmp_path.rglob("*") if p.is_file() and lab.small.password.encode() in p.read_bytes()]
    assert leaked == []
    assert any((tmp_path / "artifacts").rglob("*.json"))  # the artifacts were written, and searched


def test_playbooks_folder_configures_the_collection() -> None:
    assert "collections_path = ./collections" in (PLAYBOOKS / "ansible.cfg").read_text()
