"""The small lab's county and the whole reference city as inventory data, straight from the lab's generator: no
agents are started, the YAML is the one `yiwang lab up` writes."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from inventory.loader import LoadResult, load_inventory
from lab.city import generate_city
from lab.export import inventory_documents

SEED = 2026
PREFIX = "2408:8000:1234::/48"
Docs = dict[str, dict[str, list[Any]]]


def lab_documents(profile: str) -> Docs:
    return inventory_documents(generate_city(SEED, profile), Path("/nonexistent/lab-secret"))


def write_documents(folder: Path, docs: Docs) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, document in docs.items():
        (folder / name).write_text(yaml.dump(document, Dumper=yaml.CSafeDumper, sort_keys=False), encoding="utf-8")
    return folder


def load(folder: Path) -> LoadResult:
    return load_inventory([folder])


@pytest.fixture(scope="session")
def small_docs_once() -> Docs:
    return lab_documents("small")


@pytest.fixture
def small_docs(small_docs_once: Docs) -> Docs:
    return copy.deepcopy(small_docs_once)


@pytest.fixture(scope="session")
def city_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_documents(tmp_path_factory.mktemp("city"), lab_documents("city"))
