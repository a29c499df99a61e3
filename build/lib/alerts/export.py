"""yiwang's rules as a Prometheus alerting-rules file, and the topology as Alertmanager inhibit rules.

For sites that alert from Prometheus/Alertmanager over yiwang's /metrics instead of (or beside) yiwang's engine.
Metric names follow the Prometheus view: `yiwang_<measurement>_<field>`. What PromQL cannot say is either
approximated (the rule gets a `yiwang_note` annotation saying how) or skipped (listed in `Export.skipped` and as
comments at the top of the written file).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from string import Formatter
from typing import Any

import yaml

from alerts.notify.base import label_name
from alerts.rules import Condition, Rule
from alerts.topology import Topology
from inventory.model import LEVELS, Inventory

PREFIX = "yiwang"
GROUP = "yiwang"
# Rules whose firing alert means "everything beneath this area is cut off".
OUTAGE_CAUSES = ("uplink_down", "device_unreachable")
_AREA = '{{ or $labels.village $labels.township $labels.county $labels.city $labels.province }}'
_PLACEHOLDER = {
    "device": "{{ $labels.device }}", "interface": "{{ $labels.interface }}", "area": _AREA, "area_name": _AREA,
    "level": "area", "link": "{{ $labels.device }} {{ $labels.interface }}",
}


@dataclass(slots=True)
class Export:
    document: dict[str, Any]
    skipped: dict[str, str] = field(default_factory=dict)


def metric(measurement: str, field_name: str) -> str:
    return label_name(f"{PREFIX}_{measurement}_{field_name}")


def _selector(name: str, match: Mapping[str, str]) -> str:
    if not match:
        return name
    inner = ",".join(f"{label_name(k)}={json.dumps(v, ensure_ascii=False)}" for k, v in sorted(match.items()))
    return f"{name}{{{inner}}}"


def _window(seconds: float) -> str:
    return f"{int(seconds)}s"


def _compare(expr: str, op: str, value: float) -> str:
    return f"{expr} {op} {value:g}"


def _also(extra: Condition, group: tuple[str, ...]) -> str:
    by = ", ".join(label_name(g) for g in group)
    parts = []
    for f in extra.fields:
        sel = _selector(metric(extra.measurement, f), extra.match)
        if extra.quantifier == "all":
            # Every matching series agrees: as many series hold as there are.
            parts.append(f"(count by ({by}) ({_compare(sel, extra.op, extra.value)}) == on ({by}) "
                         f"count by ({by}) ({sel}))")
        else:
            parts.append(f"(count by ({by}) ({_compare(sel, extra.op, extra.value)}) > 0)")
    return " or ".join(parts)


def promql(rule: Rule) -> tuple[str, str]:
    """(expr, note); raises ValueError when PromQL cannot express the rule."""
    if rule.on_link:
        raise ValueError("on_link: which interfaces are inventory links is not in the metrics")
    if rule.relative_to:
        raise ValueError("relative_to: the contracted link bandwidth is not in the metrics")
    note = ""
    if rule.kind == "absent":
        by = ", ".join(label_name(g) for g in rule.group_by or ("device",))
        matchers = [f'__name__=~"{PREFIX}_{label_name(rule.measurement)}_.+"']
        matchers += [f"{label_name(k)}={json.dumps(v, ensure_ascii=False)}" for k, v in sorted(rule.match.items())]
        sel = "{" + ",".join(matchers) + "}"
        expr = (f"group by ({by}) (present_over_time({sel}[1d])) unless on ({by}) "
                f"group by ({by}) (present_over_time({sel}[{_window(rule.for_s)}]))")
        return expr, "approximated: only series seen in the last day can be reported absent"
    assert rule.value is not None  # guaranteed by Rule for every other kind
    terms = []
    for f in rule.fields:
        sel = _selector(metric(rule.measurement, f), rule.match)
        if rule.kind == "rate":
            sel = f"rate({sel}[{_window(rule.window_s)}])"
        elif rule.kind == "delta":
            fn = "increase" if f.endswith("_total") else "delta"
            sel = f"{fn}({sel}[{_window(rule.window_s)}])"
        terms.append(f"({_compare(sel, rule.op, rule.value)})")
    expr = " or ".join(terms)
    if rule.quantifier == "all" and len(rule.fields) > 1:
        expr = " and ".join(terms)
    if rule.also:
        group = tuple(rule.group_by or ("device",))
        by = ", ".join(label_name(g) for g in group)
        expr = f"({expr})"
        for extra in rule.also:
            expr += f" and on ({by}) ({_also(extra, group)})"
    if rule.kind == "rate":
        note = "rate() over the scraped counter; yiwang's engine uses its own samples"
    return expr, note


def prometheus_template(text: str, rule: Rule) -> str:
    """yiwang's `{device}` placeholders as Prometheus `{{ $labels.device }}` templates."""
    out = []
    for literal, name, spec, _ in Formatter().parse(text):
        out.append(literal.replace("{{", '{{ "{{" }}'))
        if name is None:
            continue
        if name == "value" and rule.kind == "absent":
            out.append(f"{rule.for_s:g}")  # the expression's value is 1, not the time since the last sample
        elif name == "value":
            out.append(f'{{{{ $value | printf "%{_go_spec(spec or "")}" }}}}')
        elif name == "threshold":
            out.append(f"{rule.value:g}" if rule.value is not None else "")
        elif name in ("rule", "severity"):
            out.append(rule.name if name == "rule" else rule.severity)
        else:
            out.append(_PLACEHOLDER.get(name, f"{{{{ $labels.{label_name(name)} }}}}"))
    return "".join(out)


def _go_spec(spec: str) -> str:
    m = re.match(r"^[<>^]?(\d{0,3}),?(\.\d{1,2})?([fgde%]?)$", spec or "")
    if not m or not (m.group(2) or m.group(3)):
        return "g"
    kind = m.group(3) if m.group(3) in ("f", "g", "e") else "f"
    return f"{m.group(2) or ''}{kind}"


def to_prometheus_rules(rules: Iterable[Rule]) -> dict[str, Any]:
    return export_prometheus(rules).document


def export_prometheus(rules: Iterable[Rule]) -> Export:
    entries: list[dict[str, Any]] = []
    skipped: dict[str, str] = {}
    for rule in rules:
        try:
            expr, note = promql(rule)
        except ValueError as exc:
            skipped[rule.name] = str(exc)
            continue
        annotations = {k: prometheus_template(v, rule) for k, v in rule.annotations.items()}
        if note:
            annotations["yiwang_note"] = note
        entry: dict[str, Any] = {"alert": rule.name, "expr": expr}
        if rule.for_s and rule.kind != "absent":  # an absent rule's window is in its expression
            entry["for"] = _window(rule.for_s)
        entry["labels"] = {**{label_name(k): v for k, v in rule.labels.items()}, "severity": rule.severity}
        entry["annotations"] = annotations
        entries.append(entry)
    return Export({"groups": [{"name": GROUP, "rules": entries}]}, skipped)


def inhibit_rules(inventory: Inventory) -> list[dict[str, Any]]:
    """One rule per area with a gateway: its uplink or gateway down inhibits every alert beneath the area.

    Source: an outage cause on one of the area's gateway devices, inside the area. Target: any alert labelled
    with the area (its level label equal to the area's name; the path above it pinned by `equal`). Alertmanager
    never lets an alert inhibit itself, so two causes in the same area both stay visible.
    """
    topology = Topology.from_inventory(inventory)
    causes = "|".join(OUTAGE_CAUSES)
    found = []
    for area_id in sorted(inventory.areas):
        gateways = sorted(topology.gateways.get(area_id, ()))
        if not gateways:
            continue
        area = inventory.areas[area_id]
        path = inventory.path_labels(area_id)
        devices = "|".join(re.escape(g) for g in gateways)
        here = f"{area.level.label}={json.dumps(area.name, ensure_ascii=False)}"
        found.append({
            "source_matchers": [f'alertname=~"{causes}"', f"device=~{json.dumps(devices, ensure_ascii=False)}",
                                here],
            "target_matchers": [here],
            "equal": [level for level in LEVELS if level in path],
        })
    return found


def write_prometheus_rules(rules: Iterable[Rule], path: Path) -> Export:
    export = export_prometheus(rules)
    header = ["# Generated by yiwang from its alert rules; edit the rules, not this file."]
    header += [f"# skipped {name}: {why}" for name, why in sorted(export.skipped.items())]
    text = "\n".join(header) + "\n" + yaml.safe_dump(export.document, allow_unicode=True, sort_keys=False)
    path.write_text(text, encoding="utf-8")
    return export


def write_inhibit_rules(inventory: Inventory, path: Path) -> None:
    text = yaml.safe_dump({"inhibit_rules": inhibit_rules(inventory)}, allow_unicode=True, sort_keys=False)
    path.write_text("# Generated by yiwang from the inventory's areas and uplinks.\n" + text, encoding="utf-8")
