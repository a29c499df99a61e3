"""Imports go one way: inventory and collectors at the bottom, alerts and the services in yiwang/ above them, the
API and the command line on top; production never imports the simulator (lab/).

Every import statement counts, including those inside functions: a lazy import is still a dependency."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = ("inventory", "collectors", "alerts", "yiwang", "api")
ENTRY_POINTS = {"yiwang.cli", "yiwang.cli_audit", "yiwang.cli_auth", "yiwang.cli_capacity", "yiwang.cli_change",
                "yiwang.cli_check", "yiwang.cli_check_archive", "yiwang.cli_cluster", "yiwang.cli_common",
                "yiwang.server", "yiwang.__main__"}
# A module may import modules of its own layer or below.
LAYERS = {"inventory": 0, "collectors": 1, "alerts": 2, "yiwang": 3, "api": 4, "entry": 5}
NAMES = {0: "inventory", 1: "collectors", 2: "alerts", 3: "yiwang services", 4: "api", 5: "entry points"}


def layer(module: str) -> int | None:
    if module in ENTRY_POINTS:
        return LAYERS["entry"]
    return LAYERS.get(module.split(".")[0])


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(path: Path, module: str) -> list[tuple[int, str]]:
    """(line, imported module) for every import in the file, relative ones resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            found.append((node.lineno, base))
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names if alias.name != "*"]
    return found


def violations(root: Path) -> list[str]:
    found = []
    for package in PRODUCTION:
        for path in sorted((root / package).rglob("*.py")):
            module = module_name(path, root)
            own = layer(module)
            assert own is not None
            flagged: set[int] = set()
            for line, imported in imports(path, module):
                top = imported.split(".")[0]
                where = f"{path.relative_to(root)}:{line}"
                if line in flagged or (top not in LAYERS and top != "lab"):
                    continue  # one report per line; the standard library and third parties are not ours
                if top == "lab":
                    flagged.add(line)
                    found.append(f"{where}: {module} imports the simulator ({imported})")
                    continue
                target = layer(imported)
                if target is not None and target > own:
                    flagged.add(line)
                    found.append(f"{where}: {module} ({NAMES[own]}) imports {imported} ({NAMES[target]}), "
                                 "which is above it")
    return sorted(found)


def test_no_production_module_imports_upward_or_the_lab() -> None:
    assert violations(ROOT) == []


def test_an_upward_import_is_caught(tmp_path: Path) -> None:
    for package in PRODUCTION:
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "collectors" / "base.py").write_text("from yiwang.store import Store\n")
    (tmp_path / "alerts" / "engine.py").write_text("def late():\n    from api import app\n")
    (tmp_path / "yiwang" / "runtime.py").write_text("import lab.city\nfrom . import cli\n")
    (tmp_path / "yiwang" / "cli.py").write_text("from api.app import create_app\nimport yiwang.store\n")
    (tmp_path / "inventory" / "model.py").write_text("from .loader import x\nfrom collectors import base\n")
    found = violations(tmp_path)
    assert [f.split(": ", 1)[0] for f in found] == [
        "alerts/engine.py:2",  # a lazy import inside a function counts
        "collectors/base.py:1",  # collectors -> yiwang services
        "inventory/model.py:2",  # inventory -> collectors; the relative import on line 1 is within inventory
        "yiwang/runtime.py:1",  # the simulator
        "yiwang/runtime.py:2",  # a relative import of an entry point
    ], found


@pytest.mark.parametrize("module, expected", [("yiwang.cli", 5), ("yiwang.store", 3), ("api.app", 4),
                                              ("collectors.model", 1), ("numpy", None)])
def test_layers(module: str, expected: int | None) -> None:
    assert layer(module) == expected
