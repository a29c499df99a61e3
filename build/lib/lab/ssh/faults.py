"""Run-time faults per device, read from `state_dir/faults.json`, and the pure text mangling they cause.

faults.json: {"<device>": {"auth_fail": true, "delay_s": 0.05, "drop": true, "garbage": true, "key_generation": 1}}
`delay_s` is per output line; `drop` closes the session halfway through any output of more than four lines;
raising `key_generation` makes the server replace that device's host key.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

FAULTS_FILE = "faults.json"
ANSI = "\x1b[42D\x1b[K"
MORE = "  ---- More ----" + ANSI


@dataclass(frozen=True, slots=True)
class Faults:
    auth_fail: bool = False
    delay_s: float = 0.0
    drop: bool = False
    garbage: bool = False
    key_generation: int = 0


def parse_faults(text: str) -> dict[str, Faults]:
    raw = json.loads(text or "{}")
    return {name: Faults(**{k: v for k, v in spec.items() if k in Faults.__slots__}) for name, spec in raw.items()}


def read_faults(state_dir: Path) -> dict[str, Faults]:
    path = state_dir / FAULTS_FILE
    try:
        return parse_faults(path.read_text())
    except (OSError, ValueError, TypeError):
        return {}


def write_faults(state_dir: Path, faults: dict[str, Faults]) -> None:
    """Atomically replace the control file (used by tests and operators)."""
    data = {name: {k: getattr(f, k) for k in Faults.__slots__} for name, f in faults.items()}
    tmp = state_dir / (FAULTS_FILE + ".tmp")
    tmp.write_text(json.dumps(data, indent=1))
    tmp.replace(state_dir / FAULTS_FILE)


def garble(text: str) -> str:
    """Output as a misbehaving terminal server delivers it: escapes, a stray pager prompt, one very long line."""
    lines = text.split("\n")
    if len(lines) < 3:
        return text
    lines[1] = ANSI + lines[1]
    lines.insert(2, MORE)
    lines.insert(3, "x" * 4000)
    return "\n".join(lines)


def split_for_drop(text: str) -> str | None:
    """The part written before the session is dropped, or None when the output is too short to cut."""
    lines = text.split("\n")
    if len(lines) <= 4:
        return None
    return "\n".join(lines[: len(lines) // 2]) + "\n"
