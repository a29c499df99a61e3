"""The bandwidth plan (带宽提速): which links get which new contracted rate, read from a CSV or YAML file, checked
against the inventory as a whole before anything is pushed, and written back into the inventory after the change.

The file. CSV with the header `link,mbps` (an optional `note` column is kept for people and ignored), one link per
row; blank rows and rows whose first cell starts with `#` are skipped. Or YAML: a list of `{link: ..., mbps: ...}`
(`note` optional). `mbps` is the new contracted rate in Mbit/s, a whole number from 1 to 400000.

How a link is named, in any of three ways (interface names compared without case or spaces, as the CLIs do):
- `village-r01` -- a device's name alone: its uplink, the link of which it is the lower end (`local` in the
  inventory). What the capacity report writes, one row per area's uplink.
- `township-sw01:GigabitEthernet0/0/2` -- one end: the link on that interface of that device.
- `village-r01:GigabitEthernet0/0/1--township-sw01:GigabitEthernet0/0/2` -- both ends, in either order.

Every row is checked and every problem reported together (file, line, what is wrong): an unknown device, an
interface with no link, two ends that no link joins, a link named twice, a rate that is not a whole positive number,
absurd (> 400000), or more than an end's platform can enforce, a device whose platform has no CLI. One problem and
the whole plan is refused: nothing partial.

What the change configures is both ends of each link: `host_vars` gives each device the list of its interfaces to
set (a township router that is the upper end of twenty village links gets twenty), which the playbook's templates
loop over. After the job, `write_rates` sets `bandwidth_mbps` of each link whose two ends are done in the inventory
file that defines it, changing that value alone, so the inventory in git says what the devices enforce.
"""

from __future__ import annotations

import csv
import io
import os
import re
import tempfile
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from collectors.platforms import SSH_PLATFORMS
from inventory.model import Endpoint, Inventory, Link

MAX_MBPS = 400_000  # 400 Gbit/s: more than any extranet uplink; a larger number is a typo (kbit/s for Mbit/s)
# What each platform's line-rate command can enforce, in Mbit/s. IOS and RGOS CAR (`rate-limit output bps ...`)
# takes 8,000 to 2,000,000,000 bit/s; VRP and Comware `qos lr outbound cir` take kbit/s up to 4,294,967,295.
PLATFORM_MAX_MBPS = {"cisco_ios": 2_000, "ruijie_os": 2_000}
COLUMNS = ("link", "mbps")
OPTIONAL = ("note",)
LINK_SEPARATOR = "--"
SHOWN = 6  # interfaces named in an error; a township router has dozens


@dataclass(frozen=True, slots=True)
class RateChange:
    link: Link  # the inventory's link
    mbps: int  # the new contracted rate
    old_mbps: int | None  # what the inventory says today


class BandwidthPlanError(ValueError):
    """The plan is refused; `problems` are each `file:line: what is wrong`, all of them, in the file's order."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = list(problems)


@dataclass(frozen=True, slots=True)
class _Row:
    line: int
    link: Any
    mbps: Any


def read_bandwidth_plan(path: Path, inventory: Inventory) -> list[RateChange]:
    where = str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")  # a spreadsheet's CSV may start with a byte-order mark
    except (OSError, UnicodeDecodeError) as exc:
        raise BandwidthPlanError([f"{where}: cannot be read: {exc}"]) from None
    suffix = path.suffix.lower()
    if suffix == ".csv":
        rows, problems = _csv_rows(text)
    elif suffix in (".yaml", ".yml"):
        rows, problems = _yaml_rows(text)
    else:
        raise BandwidthPlanError([f"{where}: a bandwidth plan is a .csv or a .yaml file"])
    if not rows and not problems:
        problems.append((0, "the plan names no link"))
    changes = _resolve(rows, inventory, problems)
    if problems:
        # Line 0 is the file as a whole; sorted stably, so a row's problems keep their order.
        raise BandwidthPlanError([f"{where}:{line}: {what}" if line else f"{where}: {what}"
                                  for line, what in sorted(problems, key=lambda problem: problem[0])])
    return changes


Problems = list[tuple[int, str]]  # (line, what is wrong)


def _csv_rows(text: str) -> tuple[list[_Row], Problems]:
    rows: list[_Row] = []
    problems: Problems = []
    reader = csv.reader(io.StringIO(text))
    columns: dict[str, int] | None = None
    try:
        for cells in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in cells) or cells[0].lstrip().startswith("#"):
                continue
            if columns is None:
                columns, problem = _header(cells)
                if problem:
                    return [], [(line, problem)]
                continue
            if len(cells) != len(columns):
                problems.append((line, f"{len(cells)} cells; the header has {len(columns)}"))
                continue
            rows.append(_Row(line, cells[columns["link"]].strip(), cells[columns["mbps"]].strip()))
    except csv.Error as exc:
        problems.append((reader.line_num, f"not CSV: {exc}"))
    return rows, problems


def _header(cells: list[str]) -> tuple[dict[str, int], str]:
    names = [cell.strip().lower() for cell in cells]
    unknown = [name for name in names if name not in COLUMNS + OPTIONAL]
    missing = [name for name in COLUMNS if name not in names]
    if unknown or missing or len(set(names)) != len(names):
        return {}, f"the header must be {','.join(COLUMNS)} (and optionally {','.join(OPTIONAL)}), not {cells!r}"
    return {name: i for i, name in enumerate(names)}, ""


def _yaml_rows(text: str) -> tuple[list[_Row], Problems]:
    # The node tree gives each entry its line; the constructed document its values.
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        document = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        return [], [(mark.line + 1 if mark is not None else 0, f"not YAML: {getattr(exc, 'problem', None) or exc}")]
    finally:
        loader.dispose()
    if document is None:
        return [], []
    if not isinstance(document, list) or not isinstance(node, yaml.SequenceNode):
        return [], [(1, "the plan must be a list of {link: ..., mbps: ...}")]
    rows: list[_Row] = []
    problems: Problems = []
    for item, entry in zip(node.value, document, strict=True):
        line = item.start_mark.line + 1
        if not isinstance(entry, dict):
            problems.append((line, f"an entry must be {{link: ..., mbps: ...}}, not {type(entry).__name__}"))
            continue
        unknown = sorted(str(key) for key in entry if key not in COLUMNS + OPTIONAL)
        missing = [key for key in COLUMNS if key not in entry]
        if unknown or missing:
            what = f"unknown field {unknown[0]!r}" if unknown else f"'{missing[0]}' is missing"
            problems.append((line, f"{what}; an entry is {{link: ..., mbps: ...}}"))
            continue
        rows.append(_Row(line, entry["link"], entry["mbps"]))
    return rows, problems


def _resolve(rows: Iterable[_Row], inventory: Inventory, problems: Problems) -> list[RateChange]:
    index = _LinkIndex(inventory)
    first_named: dict[Link, int] = {}
    changes: list[RateChange] = []
    for row in rows:
        link, link_problem = index.find(row.link)
        mbps, rate_problem = _rate(row.mbps)
        for problem in (link_problem, rate_problem):
            if problem:
                problems.append((row.line, problem))
        if link is None:
            continue
        if link in first_named:
            problems.append((row.line, f"the link {_name(link)} is already in the plan at line {first_named[link]}"))
            continue
        first_named[link] = row.line
        for end in (link.local, link.remote):
            problem = _platform_problem(inventory, end, mbps)
            if problem:
                problems.append((row.line, problem))
        if mbps is not None:
            changes.append(RateChange(link, mbps, round(link.bandwidth_mbps)))
    return changes


def _rate(value: Any) -> tuple[int | None, str]:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        return None, f"the rate {value!r} is not a whole positive number of Mbit/s"
    if value > MAX_MBPS:
        return None, f"the rate {value} Mbit/s is more than {MAX_MBPS} (is it in kbit/s?)"
    return value, ""


def _platform_problem(inventory: Inventory, end: Endpoint, mbps: int | None) -> str:
    device = inventory.devices[end.device]
    if device.platform not in SSH_PLATFORMS:
        return f"{end.device} is a {device.platform} device: the change has no command for it"
    limit = PLATFORM_MAX_MBPS.get(device.platform)
    if mbps is not None and limit is not None and mbps > limit:
        return f"{end.device} ({device.platform}) can enforce at most {limit} Mbit/s on an interface, not {mbps}"
    return ""


def _squeeze(interface: str) -> str:
    return interface.replace(" ", "").lower()


def _natural(name: str) -> list[Any]:
    """GigabitEthernet0/0/2 before GigabitEthernet0/0/10."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def _name(link: Link) -> str:
    return f"{link.local}{LINK_SEPARATOR}{link.remote}"


class _LinkIndex:
    def __init__(self, inventory: Inventory) -> None:
        self.devices = inventory.devices
        self.uplinks: dict[str, list[Link]] = {}
        self.by_end: dict[tuple[str, str], list[Link]] = {}
        self.interfaces: dict[str, list[str]] = {}
        for link in inventory.links:
            self.uplinks.setdefault(link.local.device, []).append(link)
            for end in (link.local, link.remote):
                self.by_end.setdefault((end.device, _squeeze(end.interface)), []).append(link)
                self.interfaces.setdefault(end.device, []).append(end.interface)

    def find(self, text: Any) -> tuple[Link | None, str]:
        """The link a name means, or why there is none."""
        if not isinstance(text, str) or not text.strip():
            return None, f"the link {text!r} is not a name; write device, device:interface or {_FORMS}"
        text = text.strip()
        if LINK_SEPARATOR in text:
            left, _, right = text.partition(LINK_SEPARATOR)
            return self._between(text, left.strip(), right.strip())
        if ":" in text:
            return self._on(text)
        return self._uplink(text)

    def _uplink(self, device: str) -> tuple[Link | None, str]:
        if device not in self.devices:
            return None, f"unknown device {device!r}"
        found = self.uplinks.get(device, [])
        if len(found) != 1:
            how = "has no uplink (it is the lower end of no link)" if not found else \
                f"is the lower end of {len(found)} links"
            return None, f"{device} {how}; name the link by its ends, {_FORMS}"
        return found[0], ""

    def _end(self, text: str) -> tuple[Endpoint | None, list[Link], str]:
        try:
            end = Endpoint.parse(text)
        except ValueError:
            return None, [], f"{text!r} is not device:interface"
        if end.device not in self.devices:
            return None, [], f"unknown device {end.device!r}"
        found = self.by_end.get((end.device, _squeeze(end.interface)), [])
        if not found:
            known = sorted(set(self.interfaces.get(end.device, [])), key=_natural)
            shown = ", ".join(known[:SHOWN]) + (f" and {len(known) - SHOWN} more" if len(known) > SHOWN else "")
            return None, [], f"{end.device} has no link on interface {end.interface!r} (its links are on: {shown})"
        return end, found, ""

    def _on(self, text: str) -> tuple[Link | None, str]:
        _, found, problem = self._end(text)
        if problem:
            return None, problem
        if len(found) > 1:
            return None, f"{len(found)} links are on {text}; name the link by its ends, {_FORMS}"
        return found[0], ""

    def _between(self, text: str, left: str, right: str) -> tuple[Link | None, str]:
        a, links_a, problem_a = self._end(left)
        b, _, problem_b = self._end(right)
        if problem_a or problem_b:
            return None, "; ".join(p for p in (problem_a, problem_b) if p)
        assert a is not None and b is not None  # noqa: S101 - no problem means both ends were found
        wanted = (b.device, _squeeze(b.interface))
        joined = [link for link in links_a
                  if wanted in ((end.device, _squeeze(end.interface)) for end in (link.local, link.remote))]
        if len(joined) != 1:
            return None, f"no link joins {left} and {right}" if not joined else f"{len(joined)} links join {text}"
        return joined[0], ""


_FORMS = f"device:interface{LINK_SEPARATOR}device:interface"


def host_vars(changes: Sequence[RateChange]) -> dict[str, dict[str, Any]]:
    """{device: {"yiwang_bandwidth": [{interface, kbps, peer_device, peer_interface}, ...]}}, both ends of each
    link; the Ansible host variables the bandwidth templates loop over, sorted by interface."""
    per_device: dict[str, list[dict[str, Any]]] = {}
    for change in changes:
        link = change.link
        for end, peer in ((link.local, link.remote), (link.remote, link.local)):
            per_device.setdefault(end.device, []).append({
                "interface": end.interface, "kbps": change.mbps * 1000,
                "peer_device": peer.device, "peer_interface": peer.interface})
    return {device: {"yiwang_bandwidth": sorted(rates, key=lambda rate: _natural(rate["interface"]))}
            for device, rates in sorted(per_device.items())}


def devices_of(changes: Iterable[RateChange]) -> list[str]:
    """Every device the plan touches, both ends of each link, sorted."""
    return sorted({end.device for change in changes for end in (change.link.local, change.link.remote)})


def write_rates(changes: Sequence[RateChange], done: Collection[str], inventory_dirs: Sequence[Path]) -> list[Path]:
    """Set `bandwidth_mbps` of each link whose two ends are in `done`, in the inventory YAML file that defines it.

    Only the value's characters change (comments, order, quoting and every other line stay as they are), each file
    is replaced atomically, and a link found in no file (or in two) refuses the whole write before any file is
    touched. Returns the files changed; a link already at its rate changes nothing."""
    # A link is named in a file by its two ends; the other fields are what it holds, not what names it.
    wanted = {(change.link.local, change.link.remote): change for change in changes
              if change.link.local.device in done and change.link.remote.device in done}
    if not wanted:
        return []
    edits: dict[Path, list[tuple[int, int, str]]] = {}
    texts: dict[Path, str] = {}
    found: dict[tuple[Endpoint, Endpoint], list[Path]] = {ends: [] for ends in wanted}
    for path in _inventory_files(inventory_dirs):
        text = path.read_text(encoding="utf-8")
        if "bandwidth_mbps" not in text:
            continue  # devices.yaml of a city: not worth parsing
        for ends, value in _link_values(text):
            if ends not in wanted:
                continue
            found[ends].append(path)
            rate = str(wanted[ends].mbps)
            if value.value != rate:
                texts[path] = text
                edits.setdefault(path, []).append((value.start_mark.index, value.end_mark.index, rate))
    unplaced = [f"{_name(wanted[ends].link)}: defined in {len(paths)} inventory files, not one"
                for ends, paths in found.items() if len(paths) != 1]
    if unplaced:
        raise BandwidthPlanError(unplaced)
    for path, spans in edits.items():
        text = texts[path]
        for start, end, replacement in sorted(spans, reverse=True):
            text = text[:start] + replacement + text[end:]
        _write_atomic(path, text)
    return sorted(edits)


def _inventory_files(inventory_dirs: Sequence[Path]) -> list[Path]:
    """The files the inventory loader reads, in its order."""
    files: list[Path] = []
    for path in inventory_dirs:
        files.extend(sorted(path.rglob("*.y*ml")) if path.is_dir() else [path])
    return files


def _link_values(text: str) -> Iterable[tuple[tuple[Endpoint, Endpoint], yaml.ScalarNode]]:
    """Each well-formed link entry of a file with the node of its `bandwidth_mbps` value (which knows where in the
    text it is). The pure-Python loader: its marks count characters of `text`, as the edit does."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return  # the loader has reported it; there is no link of ours in it
    if not isinstance(root, yaml.MappingNode):
        return
    for key, section in root.value:
        if key.value != "links" or not isinstance(section, yaml.SequenceNode):
            continue
        for entry in section.value:
            if not isinstance(entry, yaml.MappingNode):
                continue
            fields = {k.value: v for k, v in entry.value if isinstance(v, yaml.ScalarNode)}
            if not {"area", "local", "remote", "carrier", "bandwidth_mbps"} <= set(fields):
                continue
            try:
                local, remote = Endpoint.parse(fields["local"].value), Endpoint.parse(fields["remote"].value)
            except ValueError:
                continue
            yield (local, remote), fields["bandwidth_mbps"]


def _write_atomic(path: Path, text: str) -> None:
    mode = path.stat().st_mode & 0o777
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
