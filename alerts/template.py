"""A tiny, safe formatter for annotations.

Templates come from the rules file (trusted); the values come from devices (untrusted: sysName, ifAlias, ...).
Only whole placeholders from a fixed list are replaced, with no attribute or index access, and a value is never
read as a template itself, so `{{7*7}}`, `<script>` or `$(reboot)` inside a value stay literal text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from string import Formatter

PLACEHOLDERS = frozenset({
    "device", "interface", "value", "threshold", "area", "area_name", "level", "rule", "severity", "link",
    "count", "townships", "villages", "devices", "alerts", "check",
})
# Numbers may carry a plain spec such as `.1f` or `,.0f`; nothing else.
_SPEC = re.compile(r"^[<>^]?\d{0,3}(,)?(\.\d{1,2})?[fgde%]?$")
_FORMATTER = Formatter()


def check_template(text: str) -> None:
    for _, name, spec, conversion in _FORMATTER.parse(text):
        if name is None:
            continue
        if "." in name or "[" in name:
            raise ValueError(f"placeholder {{{name}}} uses attribute or index access")
        if name not in PLACEHOLDERS:
            raise ValueError(f"unknown placeholder {{{name}}}; use one of {sorted(PLACEHOLDERS)}")
        if conversion is not None:
            raise ValueError(f"placeholder {{{name}}} has a conversion (!{conversion})")
        if spec and not _SPEC.match(spec):
            raise ValueError(f"placeholder {{{name}}} has an unsupported format spec {spec!r}")


def render(text: str, values: Mapping[str, object]) -> str:
    """`text` must have passed `check_template`; a missing value renders as an empty string."""
    out: list[str] = []
    for literal, name, spec, _ in _FORMATTER.parse(text):
        out.append(literal)
        if name is None:
            continue
        value = values.get(name, "")
        if spec and isinstance(value, int | float) and not isinstance(value, bool):
            out.append(format(value, spec))
        else:
            out.append(_plain(value))
    return "".join(out)


def _plain(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
