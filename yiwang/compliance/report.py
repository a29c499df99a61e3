"""The assessor's report of one stored run (等保测评): per area, its rules' counts, each failure with its evidence and
remediation, the exemptions and the errors; as HTML (printable), CSV (one row per device x rule) or JSON.

Sections: the area asked for (the whole inventory when none), then each county and township beneath it. Every
section has its summary table; a device's findings are listed once, in the deepest section on its path (a
township's devices in the township, a county's own gateway in the county), so that a printed county does not
repeat every township's pages.

Evidence lines are configuration content. The checks mask secrets, but a reader without `configs.read` or
`audit.read` gets the report without them (`with_evidence=False`): each finding then says the evidence was
withheld. Every string from a device or the store is escaped by the template (Jinja2 autoescape).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any

import jinja2

from inventory.model import Inventory, Level
from yiwang.compliance.history import Changes, RunInfo, StoredResult
from yiwang.compliance.model import STATUSES
from yiwang.compliance.pack import Rule, RulePack

STATUS_ZH = {"pass": "通过", "fail": "不通过", "not-applicable": "不适用", "exempt": "豁免", "error": "错误"}
SEVERITY_ZH = {"low": "低", "medium": "中", "high": "高", "critical": "严重"}
WITHHELD = "evidence withheld: it is configuration content (needs configs.read or audit.read)"
CSV_COLUMNS = ("device", "platform", "area_path", "rule", "clause", "clause_title", "severity", "status", "evidence",
               "detail", "exemption", "remediation")


@dataclass(frozen=True, slots=True)
class RuleRow:
    rule: str
    spec: Rule | None  # None: a rule disabled since the run
    counts: Mapping[str, int]  # status -> devices


@dataclass(frozen=True, slots=True)
class Failing:
    rule: str
    spec: Rule | None
    results: list[StoredResult]


@dataclass(slots=True)
class Section:
    area: str
    name: str
    level: str
    path: list[str]  # area names from the top
    devices: int = 0
    rows: list[RuleRow] = field(default_factory=list)
    failing: list[Failing] = field(default_factory=list)  # the findings listed in this section
    exempt: list[StoredResult] = field(default_factory=list)
    errors: list[StoredResult] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Report:
    run: RunInfo
    area: str | None
    sections: list[Section]
    with_evidence: bool


def sections_of(inventory: Inventory, area: str | None) -> list[str]:
    """The area asked for (or the top areas), then its counties and townships, depth first."""
    tree = inventory.children()
    out: list[str] = []

    def walk(area_id: str) -> None:
        out.append(area_id)
        for child in sorted(tree.get(area_id, []), key=lambda a: a.id):
            if child.level <= Level.TOWNSHIP:
                walk(child.id)

    roots = [area] if area is not None else sorted(a.id for a in tree.get(None, []))
    for root in roots:
        walk(root)
    return out


def build(inventory: Inventory, pack: RulePack, run: RunInfo, results: Sequence[StoredResult], area: str | None,
          with_evidence: bool) -> Report:
    """`results`: the run's results within `area` (all of them when None)."""
    order = [r.id for r in pack.rules]
    order += sorted({r.rule for r in results} - set(order))
    specs = {r.id: r for r in pack.rules}
    ids = sections_of(inventory, area)
    chosen = set(ids)
    sections = {a: Section(a, inventory.areas[a].name, inventory.areas[a].level.label,
                           [x.name for x in inventory.path(a)]) for a in ids}
    counts: dict[str, dict[str, dict[str, int]]] = {a: {} for a in ids}
    devices: dict[str, set[str]] = {a: set() for a in ids}
    listed: dict[str, dict[str, list[StoredResult]]] = {a: {} for a in ids}
    for result in results:
        on_path = [a for a in result.area_path if a in chosen]
        for a in on_path:
            devices[a].add(result.device)
            by_status = counts[a].setdefault(result.rule, {})
            by_status[result.status] = by_status.get(result.status, 0) + 1
        if not on_path:
            continue
        home = sections[on_path[-1]]
        if result.status == "fail":
            listed[home.area].setdefault(result.rule, []).append(result)
        elif result.status == "exempt":
            home.exempt.append(result)
        elif result.status == "error":
            home.errors.append(result)
    for a, section in sections.items():
        section.devices = len(devices[a])
        section.rows = [RuleRow(r, specs.get(r), counts[a].get(r, {})) for r in order if r in counts[a]]
        section.failing = [Failing(r, specs.get(r), listed[a][r]) for r in order if r in listed[a]]
    return Report(run, area, [sections[a] for a in ids if devices[a]], with_evidence)


# --- renderings ---------------------------------------------------------------------------------------------------

@cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("yiwang.compliance", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True)
    env.filters["stamp"] = lambda s: datetime.fromtimestamp(s).strftime("%Y-%m-%d %H:%M:%S")
    return env


def html(report: Report) -> str:
    return _environment().get_template("report.html").render(
        report=report, statuses=STATUSES, status_zh=STATUS_ZH, severity_zh=SEVERITY_ZH, withheld=WITHHELD)


def csv_text(inventory: Inventory, pack: RulePack, results: Iterable[StoredResult], with_evidence: bool) -> str:
    specs = {r.id: r for r in pack.rules}
    stream = io.StringIO()
    writer = csv.writer(stream)
    writer.writerow(CSV_COLUMNS)
    for r in results:
        spec = specs.get(r.rule)
        exemption = (f"{r.exemption.get('reason', '')} (expires {r.exemption.get('expires', '')}, approved by "
                     f"{r.exemption.get('approved_by', '')})" if r.exemption else "")
        writer.writerow([r.device, r.platform,
                         " / ".join(inventory.areas[a].name if a in inventory.areas else a for a in r.area_path),
                         r.rule, " ".join(spec.clauses) if spec else "", spec.clause_title if spec else "",
                         r.severity, r.status, evidence_text(r.evidence) if with_evidence else WITHHELD,
                         r.detail, exemption, " / ".join(line.strip() for line in r.remediation)])
    return stream.getvalue()


def evidence_text(evidence: Sequence[Mapping[str, Any]], separator: str = " | ") -> str:
    return separator.join(f"{e['line']}: {e['text']}" if "line" in e
                          else f"缺失 missing: {e['missing'] or '(整个配置 whole configuration)'}" for e in evidence)


def result_json(result: StoredResult, with_evidence: bool) -> dict[str, object]:
    found = result.as_json()
    if not with_evidence:
        del found["evidence"]
        found["evidence_omitted"] = WITHHELD
    return found


def devices_json(results: Iterable[StoredResult], with_evidence: bool) -> list[dict[str, object]]:
    """The issue's shape: one object per device, its results in the run's order."""
    devices: dict[str, dict[str, Any]] = {}
    for result in results:
        found = devices.setdefault(result.device, {"device": result.device, "platform": result.platform,
                                                   "results": []})
        found["results"].append(result_json(result, with_evidence))
    return list(devices.values())


def report_json(report: Report) -> dict[str, object]:
    def rule(spec: Rule | None, rule_id: str) -> dict[str, object]:
        if spec is None:
            return {"rule": rule_id}
        return {"rule": rule_id, "clauses": list(spec.clauses), "clause_title": spec.clause_title,
                "title_zh": spec.title_zh, "title_en": spec.title_en, "severity": spec.severity}

    def listed(results: Iterable[StoredResult]) -> list[dict[str, object]]:
        return [{"device": r.device, "platform": r.platform, **result_json(r, report.with_evidence)}
                for r in results]

    return {"run": report.run.as_json(), "area": report.area, "evidence": report.with_evidence, "sections": [
        {"area": s.area, "name": s.name, "level": s.level, "path": s.path, "devices": s.devices,
         "rules": [{**rule(row.spec, row.rule), "counts": {st: row.counts.get(st, 0) for st in STATUSES}}
                   for row in s.rows],
         "failing": [{**rule(f.spec, f.rule), "devices": listed(f.results)} for f in s.failing],
         "exempt": listed(s.exempt), "errors": listed(s.errors)} for s in report.sections]}


def changes_within(changes: Changes, inside: set[tuple[str, str]]) -> Changes:
    """Only the (device, rule) pairs of an area or a rule asked for."""
    return Changes(changes.run, changes.previous, tuple(k for k in changes.newly_failing if k in inside),
                   tuple(k for k in changes.fixed if k in inside))
