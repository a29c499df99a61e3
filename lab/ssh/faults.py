"""Run-time faults per device, read from `state_dir/faults.json`, and the pure text mangling they cause.

faults.json: {"<device>": {"auth_fail": true, "delay_s": 0.05, "drop": true, "garbage": true, "key_generation": 1,
                            "mangle": ["display version"], "reject": ["ipv6 address"], "reject_always": ["qos lr"],
                            "drop_after": 3, "drop_always": false, "lose_management": "f7", "lose_open": false}}
`delay_s` is per output line; `drop` closes the session halfway through any output of more than four lines;
raising `key_generation` makes the server replace that device's host key; the commands in `mangle` are answered
with output of a release no reader has seen (the device's other commands answer as usual).
Faults of a change: the next configuration line containing a text of `reject` is refused with the platform's error
(once per text while the fault stands; `reject_always`: every such line); `drop_after` N closes a session right
after its Nth configuration line, once (a blip: the sessions after it are not dropped), or every session with
`drop_always`; `lose_management` (the lab's fault id) makes the first configuration change cut the device off its
management address: no new SSH session, no SNMP, no ping — sessions already open keep working, unless `lose_open`
(the change took the management interface itself down: they are cut too). As on a real device, the address works
again once the configuration is put back as it was before that change (or the fault is cleared); the fault stays
armed, so the same change typed again cuts it off again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
    mangle: tuple[str, ...] = ()
    reject: tuple[str, ...] = ()
    reject_always: tuple[str, ...] = ()
    drop_after: int = 0
    drop_always: bool = False
    lose_management: str = ""
    lose_open: bool = False


def parse_faults(text: str) -> dict[str, Faults]:
    raw = json.loads(text or "{}")
    found = {}
    for name, spec in raw.items():
        known: dict[str, Any] = {k: v for k, v in spec.items() if k in Faults.__slots__}
        for key in ("mangle", "reject", "reject_always"):
            known[key] = tuple(known.get(key, ()))
        found[name] = Faults(**known)
    return found


def read_faults(state_dir: Path) -> dict[str, Faults]:
    path = state_dir / FAULTS_FILE
    try:
        return parse_faults(path.read_text())
    except (OSError, ValueError, TypeError):
        return {}


def write_faults(state_dir: Path, faults: dict[str, Faults]) -> None:
    """Atomically replace the control file (used by tests and operators)."""
    data = {name: {k: list(v) if isinstance(v := getattr(f, k), tuple) else v for k in Faults.__slots__}
            for name, f in faults.items()}
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


def mangled(command: str) -> str:
    """What a release nobody has parsed yet might print: the command's words, no table, no values."""
    return f"Info: {' '.join(command.split()[1:])} is presented in a layout of a future release.\n\n"


def split_for_drop(text: str) -> str | None:
    """The part written before the session is dropped, or None when the output is too short to cut."""
    lines = text.split("\n")
    if len(lines) <= 4:
        return None
    return "\n".join(lines[: len(lines) // 2]) + "\n"


def rejected_text(faults: Faults, used: frozenset[str], line: str) -> str | None:
    """The fault text that makes the device refuse this configuration line, if any (a once-only text that has
    fired already does not count)."""
    for text in faults.reject_always:
        if text in line:
            return text
    return next((text for text in faults.reject if text in line and text not in used), None)
