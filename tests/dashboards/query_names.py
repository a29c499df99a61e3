"""What a PromQL or Flux query names: metrics, their label matchers, grouping labels; measurements, fields, tags.

A tokenizer, not a full parser: enough for the dashboards' queries, and tested on tricky expressions."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_TOKEN = re.compile(r"""
    (?P<string>"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*'|`[^`]*`)
  | (?P<var>\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*)
  | (?P<duration>\[[^\]]*\])
  | (?P<number>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?[a-z]*)
  | (?P<ident>[A-Za-z_:][A-Za-z0-9_:]*)
  | (?P<op>=~|!~|!=|==|>=|<=|[-+*/%^<>=(){},])
  | (?P<space>\s+)
""", re.VERBOSE)
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset", "and", "or", "unless",
            "atan2", "inf", "nan"}
GROUPING = {"by", "without", "on", "ignoring", "group_left", "group_right"}


@dataclass
class Names:
    # (metric name or None for a bare {…} selector, [(label, op, value)])
    selectors: list[tuple[str | None, list[tuple[str, str, str]]]] = field(default_factory=list)
    grouping: set[str] = field(default_factory=set)  # labels in by/without/on/ignoring/group_x clauses
    label_args: set[str] = field(default_factory=set)  # label_values(…, LABEL)


def tokens(expr: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(expr):
        m = _TOKEN.match(expr, pos)
        if m is None:
            raise ValueError(f"cannot tokenize {expr[pos:pos + 20]!r}")
        pos = m.end()
        if m.lastgroup != "space":
            out.append((m.lastgroup or "", m.group()))
    return out


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text[1:-1]) if text[0] != "`" else text[1:-1]


def promql_names(expr: str) -> Names:
    toks, names, i = tokens(expr), Names(), 0
    skip: set[int] = set()
    while i < len(toks):
        kind, text = toks[i]
        nxt = toks[i + 1][1] if i + 1 < len(toks) else ""
        if kind == "ident" and text in GROUPING:
            if nxt == "(":
                j = i + 2
                while toks[j][1] != ")":
                    if toks[j][0] == "ident":
                        names.grouping.add(toks[j][1])
                    j += 1
                i = j
        elif kind == "ident" and text == "label_values" and nxt == "(":
            depth, j = 0, i + 1
            while True:  # the last identifier before the call's closing parenthesis is the label
                depth += {"(": 1, ")": -1}.get(toks[j][1], 0)
                if depth == 0:
                    names.label_args.add(toks[j - 1][1])
                    skip.add(j - 1)
                    break
                j += 1
        elif kind == "ident" and i not in skip and text not in KEYWORDS and nxt not in ("(", "by", "without"):
            if nxt == "{":
                i = _matchers(toks, i + 1, text, names)
            else:
                names.selectors.append((text, []))
        elif text == "{":
            i = _matchers(toks, i, None, names)
        i += 1
    return names


def _matchers(toks: list[tuple[str, str]], i: int, metric: str | None, names: Names) -> int:
    found: list[tuple[str, str, str]] = []
    i += 1
    while toks[i][1] != "}":
        if toks[i][1] == ",":
            i += 1
            continue
        label, op, value = toks[i][1], toks[i + 1][1], toks[i + 2]
        if value[0] != "string":
            raise ValueError(f"matcher {label}{op} has no string value")
        found.append((label, op, _unquote(value[1])))
        i += 3
    if metric is None:
        metric = next((v for k, o, v in found if k == "__name__" and o == "="), None)
    names.selectors.append((metric, found))
    return i


@dataclass
class FluxNames:
    # per filter on a measurement: measurement -> fields named with it
    fields: dict[str, set[str]] = field(default_factory=dict)
    columns: set[str] = field(default_factory=set)  # r["x"], r.x, group(columns: [...]), tag: "x"


_FLUX_FILTER = re.compile(r'r\._measurement\s*==\s*"([^"]+)"(.*?)(?:\)\s*$|\)\n|$)', re.M)
_FLUX_FIELD = re.compile(r'r\._field\s*==\s*"([^"]+)"')
_FLUX_COLUMN = re.compile(r'r\["([^"]+)"\]|r\.([A-Za-z_][A-Za-z0-9_]*)')
_FLUX_LIST = re.compile(r'columns:\s*\[([^\]]*)\]')
_FLUX_TAG = re.compile(r'\btag:\s*"([^"]+)"')


def flux_names(query: str) -> FluxNames:
    names = FluxNames()
    for line in query.splitlines():
        m = re.search(r'r\._measurement\s*==\s*"([^"]+)"', line)
        if m:
            names.fields.setdefault(m.group(1), set()).update(_FLUX_FIELD.findall(line))
        for quoted, dotted in _FLUX_COLUMN.findall(line):
            names.columns.add(quoted or dotted)
        for listed in _FLUX_LIST.findall(line):
            names.columns.update(re.findall(r'"([^"]+)"', listed))
        names.columns.update(_FLUX_TAG.findall(line))
    return names
