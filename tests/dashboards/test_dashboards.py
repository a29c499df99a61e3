"""The generated Grafana dashboards: committed as generated, well-formed, and naming only what a live yiwang exports."""

from __future__ import annotations

import json
import random
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from dashboards.generate import DASHBOARDS, KINDS, render
from lab import lab_down, lab_up
from tests.dashboards.query_names import flux_names, promql_names
from tests.e2e.conftest import api_token, free_tcp_port, start_run, stop_run, wait_for_api, write_config
from tests.sinks.servers import start_victoria_metrics

ROOT = Path(__file__).resolve().parents[2] / "dashboards"
FILES = [(kind, name) for kind in KINDS for name in DASHBOARDS]
SYSTEM_COLUMNS = {"_value", "_time", "_field", "_measurement", "_start", "_stop"}


def _load(kind: str, name: str) -> dict[str, Any]:
    return json.loads((ROOT / kind / f"{name}.json").read_text(encoding="utf-8"))


def _queries(document: dict[str, Any]) -> list[str]:
    out = [t.get("expr") or t.get("query") for p in document["panels"] for t in p["targets"]]
    out += [v["query"] for v in document["templating"]["list"] if v["type"] == "query"]
    return out


@pytest.mark.parametrize(("kind", "name"), FILES)
def test_committed_files_are_what_the_generator_makes(kind: str, name: str) -> None:
    assert (ROOT / kind / f"{name}.json").read_text(encoding="utf-8") == render(name, kind), \
        "run: python -m dashboards.generate --out dashboards"


def test_no_stray_files() -> None:
    assert sorted(p.relative_to(ROOT).as_posix() for p in ROOT.glob("*/*.json")) == \
        sorted(f"{k}/{n}.json" for k, n in FILES)


@pytest.mark.parametrize(("kind", "name"), FILES)
def test_structure(kind: str, name: str) -> None:
    d = _load(kind, name)
    assert d["schemaVersion"] >= 39 and d["uid"] == f"yiwang-{name}-{kind}" and len(d["uid"]) <= 40
    assert re.match(r"^一网 · [\u4e00-\u9fff]+ · [A-Za-z ]+$", d["title"]), d["title"]
    ids = [p["id"] for p in d["panels"]]
    assert len(ids) == len(set(ids)) and ids
    variables = {v["name"]: v for v in d["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == kind
    _, scope, _ = DASHBOARDS[name]
    for level in scope:
        assert variables[level]["datasource"] == {"type": kind, "uid": "${datasource}"}
        assert re.search(r"[\u4e00-\u9fff]", variables[level]["label"])
    cells: set[tuple[int, int]] = set()
    for panel in d["panels"]:
        g = panel["gridPos"]
        assert 0 <= g["x"] and g["x"] + g["w"] <= 24 and g["h"] > 0
        area = {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}
        assert not cells & area, f"panel {panel['title']} overlaps another"
        cells |= area
        assert panel["datasource"] == {"type": kind, "uid": "${datasource}"}
        assert re.match(r"^[^·]*[\u4e00-\u9fff][^·]* · [ -~]+$", panel["title"]), panel["title"]
        assert panel["targets"] and all(t.get("expr" if kind == "prometheus" else "query") for t in panel["targets"])
    if kind == "influxdb":
        assert "bucket" in variables and all("${bucket}" in q for q in _queries(d))
        for level in scope:  # each panel is narrowed by each area variable as a regex
            assert all(f"/^${{{level}:regex}}$/" in t["query"] for p in d["panels"] for t in p["targets"]
                       if "cycle" not in t["query"]) or name == "alerts"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, set[str]]]]:
    """A real `yiwang run` on the small lab writing to VictoriaMetrics: (its /metrics text, {measurement:field ->
    tag keys} as written through the InfluxDB write API). VictoriaMetrics joins measurement and field with ':'
    here, which no measurement contains, so the pair is read back unambiguously. A second VictoriaMetrics holds
    8 days of the lab's uplink traffic (`yiwang lab history`) as capacity.history_url, so that the run computes
    and exports the link samples (p95 per window, days to saturation per threshold) too."""
    tmp = tmp_path_factory.mktemp("grafana-live")
    state = tmp / "lab"
    state.mkdir()
    lab_up(state, profile="small", seed=2026, port=random.randint(20000, 29999))
    vm = start_victoria_metrics(tmp, extra_args=["-influxMeasurementFieldSeparator=:"])
    history = start_victoria_metrics(tmp / "history")
    process = None
    try:
        port = free_tcp_port()
        config = write_config(tmp / "yiwang.yaml", state, database_url=f"sqlite:///{tmp / 'y.sqlite'}",
                              api={"port": port}, influx={"url": vm.influx_url, "org": "o", "bucket": "yiwang"},
                              capacity={"history_url": history.url})
        filled = subprocess.run([sys.executable, "-m", "yiwang", "lab", "history", "--days", "8", "--traffic-only",
                                 "--server-days", "0", "--url", history.url, "-c", str(config)],
                                capture_output=True, text=True, timeout=300)
        assert filled.returncode == 0, filled.stderr
        history.force_flush()
        token = api_token(config, "viewer")
        process = start_run(config, tmp / "yiwang.log")
        url = f"http://127.0.0.1:{port}"
        wait_for_api(url, process, tmp / "yiwang.log")
        headers = {"Authorization": f"Bearer {token}"}
        deadline = time.monotonic() + 90
        while True:  # every collector has answered once: SNMP tables, ICMP and the cycle summary are all there
            text = httpx.get(f"{url}/metrics", headers=headers, timeout=30).text
            if all(n in text for n in ("yiwang_interface_in_bps{", "yiwang_icmp_rtt_seconds{", "yiwang_cycle_",
                                       "yiwang_entity_cpu_percent{", "yiwang_link_p95_ratio{",
                                       "yiwang_link_days_to_saturation{")):
                break
            assert time.monotonic() < deadline, text[:2000]
            time.sleep(1)
        time.sleep(4)  # one more cycle reaches the database
        written: dict[str, set[str]] = {}
        for series in vm.export():
            labels = dict(series["metric"])
            written.setdefault(labels.pop("__name__"), set()).update(labels)
        yield text, written
    finally:
        if process is not None:
            stop_run(process)
        vm.stop()
        history.stop()
        lab_down(state)


def _exposed(text: str) -> dict[str, set[str]]:
    labels: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels.setdefault(sample.name, set()).update(sample.labels)
    return labels


@pytest.mark.integration
@pytest.mark.parametrize("name", list(DASHBOARDS))
def test_prometheus_queries_name_only_what_metrics_exports(name: str, live: tuple[str, dict[str, set[str]]]) -> None:
    exposed = _exposed(live[0])
    for query in _queries(_load("prometheus", name)):
        names = promql_names(query)
        assert names.selectors, query
        in_query: set[str] = set()
        for metric, matchers in names.selectors:
            if metric is None:  # {__name__=~"..."}: the regex must match something exported, and so each matcher
                pattern = next(v for k, o, v in matchers if k == "__name__")
                candidates = [m for m in exposed if re.fullmatch(pattern, m)]
                assert candidates, f"{pattern} matches no exported metric in {query}"
            else:
                assert metric in exposed, f"{metric} is not in /metrics ({query})"
                candidates = [metric]
            have = set().union(*(exposed[m] for m in candidates))
            in_query |= have
            for label, _, _ in matchers:
                assert label == "__name__" or label in have, f"{metric} has no label {label} ({query})"
        for label in names.grouping | names.label_args:
            assert label in in_query, f"no metric of {query} has the label {label}"


@pytest.mark.integration
@pytest.mark.parametrize("name", list(DASHBOARDS))
def test_flux_queries_name_only_what_the_sink_writes(name: str, live: tuple[str, dict[str, set[str]]]) -> None:
    written = live[1]
    for query in _queries(_load("influxdb", name)):
        names = flux_names(query)
        assert names.fields, query
        allowed = set(SYSTEM_COLUMNS)
        for measurement, fields in names.fields.items():
            assert fields or "schema.tagValues" in query, query
            for f in fields:
                assert f"{measurement}:{f}" in written, f"{measurement} {f} was never written ({query})"
                allowed |= written[f"{measurement}:{f}"] | {f}
        unknown = names.columns - allowed
        assert not unknown, f"{sorted(unknown)} are not tags of what the query reads: {query}"
