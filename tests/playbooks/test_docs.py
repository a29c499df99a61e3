"""`ansible-doc yiwang.extranet.MODULE` renders each module's documentation, found through playbooks/ansible.cfg,
and what it documents is what the action plugin accepts."""

from __future__ import annotations

import ast
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.playbooks.conftest import COLLECTION, PLAYBOOKS, ansible_env, ansible_tool

FRAGMENT = COLLECTION / "plugins" / "doc_fragments" / "session.py"

MODULES = ("config", "command", "facts", "rollout")


@pytest.mark.parametrize("module", MODULES)
def test_ansible_doc_renders_the_module(module: str, tmp_path: Path) -> None:
    done = subprocess.run([ansible_tool("ansible-doc"), f"yiwang.extranet.{module}"], capture_output=True,
                          text=True, timeout=120, cwd=tmp_path, env=ansible_env(tmp_path))
    assert done.returncode == 0, done.stderr
    assert f"yiwang.extranet.{module}" in done.stdout
    assert "EXAMPLES" in done.stdout and "RETURN VALUES" in done.stdout
    assert "has a corresponding action plugin" in done.stdout


def test_the_collection_lists_its_modules(tmp_path: Path) -> None:
    done = subprocess.run([ansible_tool("ansible-doc"), "-l", "yiwang.extranet"], capture_output=True, text=True,
                          timeout=120, cwd=PLAYBOOKS, env=ansible_env(tmp_path))
    assert done.returncode == 0, done.stderr
    assert sorted(line.split()[0] for line in done.stdout.splitlines() if line.strip()) == \
        [f"yiwang.extranet.{m}" for m in sorted(MODULES)]


def literal(path: Path, name: str) -> Any:
    """A module-level constant of a plugin file, read without importing it (it needs Ansible's loader)."""
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign | ast.AnnAssign):
            target = node.targets[0] if isinstance(node, ast.Assign) else node.target
            if isinstance(target, ast.Name) and target.id == name and node.value is not None:
                return ast.literal_eval(node.value)
    return {}


@pytest.mark.parametrize("module", MODULES)
def test_documented_options_are_the_argument_spec(module: str) -> None:
    docs = yaml.safe_load(literal(COLLECTION / "plugins" / "modules" / f"{module}.py", "DOCUMENTATION"))
    # the options every module has are documented once, in the doc fragment the module extends (as ansible-doc
    # merges them), and coded once, in COMMON_SPEC
    assert docs["extends_documentation_fragment"] == ["yiwang.extranet.session"]
    fragment = yaml.safe_load(FRAGMENT.read_text().split('r"""', 1)[1].split('"""', 1)[0])["options"]
    common = literal(COLLECTION / "plugins" / "plugin_utils" / "base.py", "COMMON_SPEC")
    assert set(fragment) == set(common)
    spec = {**literal(COLLECTION / "plugins" / "action" / f"{module}.py", "SPEC"), **common}
    documented = {**(docs.get("options") or {}), **fragment}
    assert set(documented) == set(spec)
    for name, option in documented.items():
        assert option["type"] == spec[name]["type"], name
        assert option.get("default") == spec[name].get("default"), name
        assert option.get("required", False) == spec[name].get("required", False), name
