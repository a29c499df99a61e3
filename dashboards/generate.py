"""Grafana dashboards for yiwang, built with grafana-foundation-sdk (a dev dependency, never imported by production).

`python -m dashboards.generate --out dashboards` writes prometheus/*.json (PromQL over /metrics) and influxdb/*.json
(Flux over what the InfluxDB sink writes). Each panel's query is one datasource-neutral `Q`, rendered twice, so the
two flavours cannot drift apart; tests/dashboards checks the output against a live `yiwang run`.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grafana_foundation_sdk.builders import bargauge, stat, table, timeseries
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import prometheus as prom
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

from alerts.export import promql
from alerts.rules import Rule, load_rules
from dashboards import catalogue as c
from dashboards.catalogue import Metric

KINDS = ("prometheus", "influxdb")
VARIABLES = ("county", "township", "device")  # the area path labels every device-level series carries
LABELS_ZH = {"county": "区县", "township": "乡镇", "device": "设备"}
_FLUX_OPS = {"==": "==", "!=": "!=", ">": ">", ">=": ">=", "<": "<", "<=": "<="}


@dataclass(frozen=True)
class Q:
    """One query: a metric, optionally divided by another of the same series (`per` * `per_scale`), kept where `cond`
    holds, aggregated `agg` by `by`. `scoped` queries are narrowed by the dashboard's area variables."""

    metric: Metric
    legend: str = ""
    match: tuple[tuple[str, str], ...] = ()
    per: Metric | None = None
    per_scale: float = 1.0
    cond: tuple[str, float] | None = None
    agg: str | None = None
    by: tuple[str, ...] = ()
    topk: int | None = None
    scoped: bool = True


def _fmt(value: float) -> str:
    return f"{value:g}"


def to_promql(q: Q, scope: Sequence[str]) -> str:
    matchers = [f'{k}="{v}"' for k, v in q.match]
    if q.scoped:
        matchers += [f'{v}=~"${v}"' for v in scope]
    inner = "{" + ",".join(matchers) + "}" if matchers else ""
    expr = q.metric.prom + inner
    if q.per is not None:
        expr = f"{expr} / ({q.per.prom}{inner} * {_fmt(q.per_scale)})"
    if q.cond is not None:
        expr = f"({expr}) {q.cond[0]} {_fmt(q.cond[1])}"
    if q.agg is not None:
        by = f" by ({', '.join(q.by)})" if q.by else ""
        expr = f"{q.agg}{by} ({expr})"
    if q.topk is not None:
        expr = f"topk({q.topk}, {expr})"
    return expr


def to_flux(q: Q, scope: Sequence[str]) -> str:
    fields = [q.metric.field] + ([q.per.field] if q.per is not None else [])
    if q.per is not None and q.per.measurement != q.metric.measurement:
        raise ValueError("a ratio is of two fields of one measurement")
    field_test = " or ".join(f'r._field == "{f}"' for f in fields)
    lines = ['from(bucket: "${bucket}")',
             "  |> range(start: v.timeRangeStart, stop: v.timeRangeStop)",
             f'  |> filter(fn: (r) => r._measurement == "{q.metric.measurement}" and ({field_test}))']
    lines += [f'  |> filter(fn: (r) => r["{k}"] == "{v}")' for k, v in q.match]
    if q.scoped:
        lines += [f'  |> filter(fn: (r) => r["{v}"] =~ /^${{{v}:regex}}$/)' for v in scope]
    lines.append("  |> aggregateWindow(every: v.windowPeriod, fn: last, createEmpty: false)")
    if q.per is not None:
        lines.append('  |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")')
        lines.append(f"  |> map(fn: (r) => ({{r with _value: r[\"{q.metric.field}\"] / "
                     f"(r[\"{q.per.field}\"] * {float(q.per_scale)!r})}}))")
    if q.cond is not None:
        lines.append(f"  |> filter(fn: (r) => r._value {_FLUX_OPS[q.cond[0]]} {float(q.cond[1])!r})")
    if q.agg is not None:
        columns = ", ".join(f'"{b}"' for b in q.by)
        fn = {"sum": "sum", "count": "count", "avg": "mean", "max": "max", "min": "min"}[q.agg]
        lines.append(f"  |> group(columns: [{columns}])")
        lines.append(f"  |> aggregateWindow(every: v.windowPeriod, fn: {fn}, createEmpty: false)")
    if q.topk is not None:
        lines.append(f"  |> top(n: {q.topk})")
    return "\n".join(lines)


class FluxQuery(cogbuilder.Builder[cogvariants.Dataquery]):
    """The SDK has no InfluxDB query type; this is the target Grafana's InfluxDB (Flux) data source stores."""

    def __init__(self, query: str, ref_id: str) -> None:
        self._query = _FluxTarget(query, ref_id)

    def build(self) -> cogvariants.Dataquery:
        return self._query


class _FluxTarget(cogvariants.Dataquery):
    def __init__(self, query: str, ref_id: str) -> None:
        self.query, self.ref_id = query, ref_id

    def to_json(self) -> dict[str, object]:
        return {"refId": self.ref_id, "query": self.query}


@dataclass
class Board:
    """One dashboard being laid out: panels flow left to right in a 24-column grid."""

    kind: str
    scope: tuple[str, ...]
    panels: list[Any] = field(default_factory=list)
    x: int = 0
    y: int = 0
    row_h: int = 0

    @property
    def datasource(self) -> model.DataSourceRef:
        return model.DataSourceRef(type_val=self.kind, uid="${datasource}")

    def targets(self, queries: Sequence[Q], instant: bool = False) -> list[cogbuilder.Builder[cogvariants.Dataquery]]:
        out: list[cogbuilder.Builder[cogvariants.Dataquery]] = []
        for index, q in enumerate(queries):
            ref = chr(ord("A") + index)
            if self.kind == "prometheus":
                target = prom.Dataquery().expr(to_promql(q, self.scope)).legend_format(q.legend or "__auto").ref_id(ref)
                out.append(target.instant().format(model_format("table")) if instant else target)
            else:
                out.append(FluxQuery(to_flux(q, self.scope), ref))
        return out

    def add(self, panel: Any, w: int, h: int) -> None:
        if self.x + w > 24:
            self.x, self.y, self.row_h = 0, self.y + self.row_h, 0
        panel.grid_pos(model.GridPos(h=h, w=w, x=self.x, y=self.y)).datasource(self.datasource)
        self.x += w
        self.row_h = max(self.row_h, h)
        self.panels.append(panel)


def model_format(name: str) -> PromQueryFormat:
    return PromQueryFormat(name)


def _stat(b: Board, title: str, q: Q, unit: str = "none", w: int = 6) -> None:
    b.add(stat.Panel().title(title).unit(unit).targets(b.targets([q])), w, 4)


def _series(b: Board, title: str, queries: Sequence[Q], unit: str, w: int = 12) -> None:
    b.add(timeseries.Panel().title(title).unit(unit).targets(b.targets(queries)), w, 8)


def _bars(b: Board, title: str, q: Q, unit: str, w: int = 12) -> None:
    b.add(bargauge.Panel().title(title).unit(unit).targets(b.targets([q])), w, 8)


def _table(b: Board, title: str, queries: Sequence[Q], w: int = 24, raw: str | None = None) -> None:
    targets = b.targets(queries, instant=True)
    if raw is not None:  # an alert rule's own exported expression (Prometheus only)
        targets = [prom.Dataquery().expr(raw).instant().format(model_format("table")).ref_id("A")]
    b.add(table.Panel().title(title).targets(targets), w, 8)


SNMP = (("collector", "snmp"),)
RULES_ZH = {"device_unreachable": "设备不可达", "interface_errors_rising": "接口错误增长", "cpu_high": "CPU 过高",
            "memory_high": "内存过高", "poll_data_absent": "轮询数据缺失"}


def overview(b: Board) -> None:
    _stat(b, "设备 · Devices", Q(c.POLL_UP, match=SNMP, agg="count"))
    _stat(b, "在线 · Up", Q(c.POLL_UP, match=SNMP, cond=("==", 1), agg="count"))
    _stat(b, "离线 · Down", Q(c.POLL_UP, match=SNMP, cond=("==", 0), agg="count"))
    _stat(b, "轮询耗时 · Cycle duration", Q(c.CYCLE_DURATION, match=SNMP, agg="max", scoped=False), "s")
    _bars(b, "各区县在线率 · Availability by county", Q(c.POLL_UP, "{{county}}", SNMP, agg="avg", by=("county",)),
          "percentunit")
    _series(b, "各区县平均时延 · ICMP round trip by county",
            [Q(c.ICMP_RTT, "{{county}}", agg="avg", by=("county",))], "s")
    _series(b, "各区县流量 · Traffic by county",
            [Q(c.IF_IN_BPS, "{{county}} 入 in", agg="sum", by=("county",)),
             Q(c.IF_OUT_BPS, "{{county}} 出 out", agg="sum", by=("county",))], "bps")
    _series(b, "轮询周期 · Poll cycles", [Q(c.CYCLE_DURATION, "{{collector}}", agg="max", by=("collector",),
                                              scoped=False),
                                            Q(c.CYCLE_FAILED, "{{collector}} 失败 failed", agg="sum",
                                              by=("collector",), scoped=False)], "s")
    _table(b, "离线设备 · Devices down", [Q(c.POLL_UP, match=SNMP, cond=("==", 0))])


def county(b: Board) -> None:
    _stat(b, "设备 · Devices", Q(c.POLL_UP, match=SNMP, agg="count"), w=8)
    _stat(b, "在线 · Up", Q(c.POLL_UP, match=SNMP, cond=("==", 1), agg="count"), w=8)
    _stat(b, "离线 · Down", Q(c.POLL_UP, match=SNMP, cond=("==", 0), agg="count"), w=8)
    _bars(b, "各乡镇在线率 · Availability by township",
          Q(c.POLL_UP, "{{township}}", SNMP, agg="avg", by=("township",)), "percentunit")
    _series(b, "各乡镇时延 · ICMP round trip by township",
            [Q(c.ICMP_RTT, "{{township}}", agg="avg", by=("township",))], "s")
    _series(b, "各乡镇流量 · Traffic by township",
            [Q(c.IF_IN_BPS, "{{township}} 入 in", agg="sum", by=("township",)),
             Q(c.IF_OUT_BPS, "{{township}} 出 out", agg="sum", by=("township",))], "bps", w=24)
    _table(b, "离线设备 · Devices down", [Q(c.POLL_UP, match=SNMP, cond=("==", 0))])


def device(b: Board) -> None:
    _stat(b, "SNMP 轮询 · SNMP poll", Q(c.POLL_UP, match=SNMP, agg="min"))
    _stat(b, "运行时间 · Uptime", Q(c.UPTIME, agg="max"), "s")
    _stat(b, "时延 · ICMP round trip", Q(c.ICMP_RTT, agg="max"), "s")
    _stat(b, "丢包 · ICMP loss", Q(c.ICMP_LOSS, agg="max"), "percentunit")
    _series(b, "接口流量 · Interface traffic",
            [Q(c.IF_IN_BPS, "{{interface}} 入 in"), Q(c.IF_OUT_BPS, "{{interface}} 出 out")], "bps", w=24)
    _series(b, "CPU 与内存 · CPU and memory",
            [Q(c.CPU, "CPU {{entity}}"), Q(c.MEMORY, "内存 memory {{entity}}")], "percent")
    _series(b, "接口错误 · Interface errors and discards",
            [Q(c.IF_IN_ERRORS, "{{interface}} 入错 in errors"), Q(c.IF_OUT_ERRORS, "{{interface}} 出错 out errors"),
             Q(c.IF_IN_DISCARDS, "{{interface}} 入丢弃 in discards")], "pps")
    _table(b, "接口状态 · Interface status", [Q(c.IF_OPER), Q(c.IF_ADMIN), Q(c.IF_SPEED_MBPS)])


def links(b: Board) -> None:
    ratio_in = Q(c.IF_IN_BPS, "{{device}} {{interface}}", per=c.IF_SPEED_MBPS, per_scale=1e6)
    ratio_out = Q(c.IF_OUT_BPS, "{{device}} {{interface}}", per=c.IF_SPEED_MBPS, per_scale=1e6)
    _series(b, "入向利用率前 10 · Top 10 inbound utilisation", [Q(**{**ratio_in.__dict__, "topk": 10})],
            "percentunit")
    _series(b, "出向利用率前 10 · Top 10 outbound utilisation", [Q(**{**ratio_out.__dict__, "topk": 10})],
            "percentunit")
    _table(b, "利用率超过 80% 的接口 · Interfaces above 80%",
           [Q(**{**ratio_in.__dict__, "cond": (">", 0.8)}), Q(**{**ratio_out.__dict__, "cond": (">", 0.8)})])
    _series(b, "各区县总流量 · Traffic by county",
            [Q(c.IF_IN_BPS, "{{county}} 入 in", agg="sum", by=("county",)),
             Q(c.IF_OUT_BPS, "{{county}} 出 out", agg="sum", by=("county",))], "bps", w=24)
    # The hourly capacity samples (yiwang/capacity/samples.py): p95 of the contract per window, and the forecast
    # crossing per threshold (absent where the trend never crosses).
    windows_zh = {"7d": "7 天", "30d": "30 天"}
    for window in c.LINK_WINDOWS:
        _series(b, f"{windows_zh.get(window, window)} P95 利用率前 10 · Top 10 p95 utilisation, {window}",
                [Q(c.LINK_P95, "{{device}} {{interface}} {{direction}}", match=(("window", window),), topk=10)],
                "percentunit")
    for threshold in c.LINK_THRESHOLDS:
        _table(b, f"距 {threshold}% 签约带宽天数 · Days to {threshold}% of the contract",
               [Q(c.LINK_DAYS, match=(("threshold", threshold),))], w=12)


def alert_rules() -> list[Rule]:
    """yiwang's default rules over what the poller always writes (a rule over backups or compliance shows in
    Grafana only where those run: its own exported Prometheus rule covers it)."""
    out = []
    for rule in load_rules():
        try:
            promql(rule)
        except ValueError:
            continue
        if rule.measurement in c.POLLED_MEASUREMENTS:
            out.append(rule)
    return out


def alerts(b: Board) -> None:
    _stat(b, "离线设备 · Devices down", Q(c.POLL_UP, match=SNMP, cond=("==", 0), agg="count"), w=8)
    _stat(b, "接口中断 · Interfaces down", Q(c.IF_OPER, cond=("==", 2), agg="count"), w=8)
    _stat(b, "ICMP 不可达 · ICMP unreachable", Q(c.ICMP_UP, cond=("==", 0), agg="count"), w=8)
    for rule in alert_rules():
        title = f"{RULES_ZH.get(rule.name, rule.name)} · {rule.name}"
        if b.kind == "prometheus":
            _table(b, title, [], w=12, raw=promql(rule)[0])
        elif rule.kind == "threshold" and rule.value is not None:
            for name in rule.fields:
                q = Q(c.metric(rule.measurement, name), match=tuple(sorted(rule.match.items())),
                      cond=(rule.op, rule.value))
                _table(b, title, [q], w=12)


DASHBOARDS: dict[str, tuple[str, tuple[str, ...], Callable[[Board], None]]] = {
    "overview": ("全市总览 · City overview", ("county",), overview),
    "county": ("区县 · County", ("county", "township"), county),
    "device": ("设备 · Device", VARIABLES, device),
    "links": ("链路容量 · Links capacity", VARIABLES, links),
    "alerts": ("告警 · Alerts", ("county",), alerts),
}


def _variables(kind: str, scope: Sequence[str]) -> list[Any]:
    source = model.DataSourceRef(type_val=kind, uid="${datasource}")
    out: list[Any] = [dash.DatasourceVariable("datasource").label("数据源 · Data source").type(kind)]
    if kind == "influxdb":
        out.append(dash.TextBoxVariable("bucket").label("存储桶 · Bucket").default_value("yiwang"))
    for index, name in enumerate(scope):
        above = scope[:index]
        if kind == "prometheus":
            inner = ",".join(f'{a}=~"${a}"' for a in above)
            query = f"label_values({c.POLL_UP.prom}{{{inner}}}, {name})" if inner else \
                f"label_values({c.POLL_UP.prom}, {name})"
        else:
            narrow = "".join(f" and r[\"{a}\"] =~ /^${{{a}:regex}}$/" for a in above)
            query = ('import "influxdata/influxdb/schema"\n'
                     f'schema.tagValues(bucket: "${{bucket}}", tag: "{name}", start: -7d, predicate: (r) => '
                     f'r._measurement == "{c.POLL_UP.measurement}" and r._field == "{c.POLL_UP.field}"{narrow})')
        variable = (dash.QueryVariable(name).label(f"{LABELS_ZH[name]} · {name.capitalize()}").query(query)
                    .datasource(source).refresh(model.VariableRefresh.ON_TIME_RANGE_CHANGED).sort(
                        model.VariableSort.ALPHABETICAL_ASC).include_all(True).all_value(".*").multi(True))
        out.append(variable)
    return out


def build(name: str, kind: str) -> dict[str, Any]:
    title, scope, fill = DASHBOARDS[name]
    board = Board(kind, scope)
    fill(board)
    builder = (dash.Dashboard(f"一网 · {title}").uid(f"yiwang-{name}-{kind}").tags(["yiwang", kind])
               .timezone("browser").refresh("1m").time("now-6h", "now").editable()
               .link(dash.DashboardLink("一网 · yiwang").type(model.DashboardLinkType.DASHBOARDS)
                     .tags(["yiwang", kind]).as_dropdown(True).include_vars(True).keep_time(True)))
    for variable in _variables(kind, scope):
        builder = builder.with_variable(variable)
    for index, panel in enumerate(board.panels, start=1):
        builder = builder.with_panel(panel.id(index))
    document: dict[str, Any] = json.loads(json.dumps(builder.build(), cls=JSONEncoder))
    return document


def render(name: str, kind: str) -> str:
    return json.dumps(build(name, kind), indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def write_all(out: Path) -> list[Path]:
    written = []
    for kind in KINDS:
        (out / kind).mkdir(parents=True, exist_ok=True)
        for name in DASHBOARDS:
            path = out / kind / f"{name}.json"
            path.write_text(render(name, kind), encoding="utf-8")
            written.append(path)
    return written


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m dashboards.generate", description=__doc__)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent)
    args = parser.parse_args(argv)
    for path in write_all(args.out):
        print(path)


if __name__ == "__main__":
    main()
