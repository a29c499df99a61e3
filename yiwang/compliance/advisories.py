"""`firmware-advisory` (8.1.4.4e): the device's software version against the advisory file the operator maintains.

The file is YAML, a list of advisories:

    - id: huawei-sa-20210519-02-dos        # the vendor's advisory id
      platform: huawei_vrp                 # as in collectors/platforms.py
      severity: high                       # low | medium | high | critical
      title: Denial of service in some Huawei switches
      url: https://…                       # optional
      models: ["S5700*", "S6700*"]         # optional: shell patterns of the model the SSH collector read
      affected:                            # version ranges, each with at least one bound
        - {from: V200R005C00, to: V200R005C00SPC500}   # both inclusive
        - {before: V200R019C10SPC500}                  # exclusive: the first fixed release
        - {version: V200R005C00SPC500}                 # exactly one release

Versions are compared in each vendor's own numbering (see `version_key`); a version of another line (an IOS `E`
train against an `M` range) is outside the range, never "less than" it.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from yiwang.compliance.model import RuleResult, Severity

RULE = "firmware-advisory"
PLATFORMS = ("huawei_vrp", "hp_comware", "cisco_ios", "ruijie_os")
FIELDS = ("id", "platform", "severity", "title", "url", "models", "affected")
BOUNDS = ("from", "to", "before", "version")
SEVERITIES: tuple[Severity, ...] = ("low", "medium", "high", "critical")  # in order: the worst is the last


class VersionError(ValueError):
    pass


@dataclass(frozen=True, slots=True, order=True)
class Version:
    """A comparable release: `line` must be equal for two versions to compare (an IOS train), `numbers` order."""

    line: str
    numbers: tuple[int, ...]
    text: str = ""

    def comparable(self, other: Version) -> bool:
        return self.line == other.line


# VRP: V200R019C10SPC500, V800R011C10SPC100, V200R019C10 (a base release), …SPH (hot patch) after its SPC.
_VRP = re.compile(r"V(\d{3})R(\d{3})C(\d{2})(?:SPC(\d{3}))?(?:SPH(\d+))?", re.IGNORECASE)
# Comware: "7.1.070 Release 6615P05" (as the SSH collector keeps it), "7.1.070, Release 7751P08" (the config's
# `version` line), "5.20.99 Release 1115", "7.1.045 Release 2432P05", ESS/Feature releases numbered alike.
_COMWARE = re.compile(r"(\d+(?:\.\d+)*),?\s+(?:Release|ESS|Feature|Alpha|Beta)\s+(\d+)(?:P(\d+))?\b", re.IGNORECASE)
# IOS: 15.2(4)M11, 12.2(54)SG1, 15.2(4.0.55)E, 15.2(7)E4, 12.4(6)T2; IOS XE: 16.9.3, 03.06.05E, 17.3.4a.
_IOS_CLASSIC = re.compile(r"(\d+)\.(\d+)\(([\d.]+)([a-z]?)\)([A-Z]*)(\d*)([a-z]?)$")
_IOS_XE = re.compile(r"(\d+)\.(\d+)\.(\d+)([A-Z]*)([a-z]?)$")
# RGOS: 11.4(1)B12P8, "S5750_RGOS 11.4(1)B12P3", "RGOS 10.4(3b19)p3 Release(180891)", "AP_RGOS 11.1(9)B1P14, …".
_RGOS = re.compile(r"(\d+)\.(\d+)\((\d+)(?:[a-z](\d+))?\)(?:B(\d+))?(?:[Pp](\d+))?", re.IGNORECASE)


def version_key(platform: str, text: str) -> Version:
    """The comparable form of a version string as the SSH collector reads it (or as an advisory writes it)."""
    cleaned = text.strip()
    if platform == "huawei_vrp":
        found = _VRP.search(cleaned)
        if found:
            v, r, c, spc, sph = found.groups()
            # A base release (no SPC) is before its first SPC; a hot patch comes after its SPC.
            return Version("", (int(v), int(r), int(c), int(spc or 0), int(sph or 0)), cleaned)
    elif platform == "hp_comware":
        found = _COMWARE.search(cleaned)
        if found:
            dotted, release, patch = found.groups()
            return Version("", (*_dotted(dotted, 3), int(release), int(patch or 0)), cleaned)
    elif platform == "cisco_ios":
        words = cleaned.replace(",", " ").split()
        word = next((w for w in words if w[:1].isdigit()), "")
        found = _IOS_CLASSIC.match(word)
        if found:
            major, minor, maint, letter, train, rebuild, suffix = found.groups()
            return Version(train, (int(major), int(minor), *_dotted(maint, 4), _letter(letter), int(rebuild or 0),
                                   _letter(suffix)), cleaned)
        found = _IOS_XE.match(word)
        if found:
            major, minor, maint, train, suffix = found.groups()
            return Version(f"XE{train}", (int(major), int(minor), int(maint), 0, 0, 0, 0, 0, _letter(suffix)), cleaned)
    elif platform == "ruijie_os":
        found = _RGOS.search(cleaned)
        if found:
            major, minor, mid, build, b, p = found.groups()
            return Version("", (int(major), int(minor), int(mid), int(build or 0), int(b or 0), int(p or 0)), cleaned)
    else:
        raise VersionError(f"no version ordering for platform {platform!r}")
    raise VersionError(f"{text!r} is not a {platform} version")


def _dotted(text: str, width: int) -> tuple[int, ...]:
    parts = tuple(int(p) for p in text.split(".") if p)
    return (parts + (0,) * width)[:width]


def _letter(text: str) -> int:
    return ord(text.lower()) - ord("a") + 1 if text else 0


@dataclass(frozen=True, slots=True)
class VersionRange:
    start: Version | None = None  # inclusive
    end: Version | None = None  # inclusive (`to`, `version`)
    before: Version | None = None  # exclusive (`before`)

    def contains(self, version: Version) -> bool:
        bounds = [b for b in (self.start, self.end, self.before) if b is not None]
        if not all(b.comparable(version) for b in bounds):
            return False
        return ((self.start is None or self.start.numbers <= version.numbers)
                and (self.end is None or version.numbers <= self.end.numbers)
                and (self.before is None or version.numbers < self.before.numbers))

    def __str__(self) -> str:
        if self.start is not None and self.start == self.end:
            return self.start.text
        low = f"{self.start.text} … " if self.start else "… "
        high = self.end.text if self.end else (f"before {self.before.text}" if self.before else "")
        return low + high


@dataclass(frozen=True, slots=True)
class Advisory:
    id: str
    platform: str
    severity: Severity
    title: str
    affected: tuple[VersionRange, ...]
    url: str | None = None
    models: tuple[str, ...] = ()  # empty: every model of the platform

    def applies_to(self, model: str | None) -> bool:
        if not self.models:
            return True
        return model is not None and any(fnmatch.fnmatchcase(model.upper(), p.upper()) for p in self.models)

    def affecting(self, version: Version) -> VersionRange | None:
        return next((r for r in self.affected if r.contains(version)), None)


class AdvisoryFileError(ValueError):
    """A broken advisory file, naming the file, the entry and the field."""

    def __init__(self, file: str, entry: str, field: str, message: str) -> None:
        super().__init__(f"{file}: {entry}: {field}: {message}")
        self.file, self.entry, self.field, self.message = file, entry, field, message


def load_advisories(path: Path) -> tuple[Advisory, ...]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise AdvisoryFileError(str(path), "file", "-", f"cannot be read: {exc.strerror or exc}") from None
    return parse_advisories(text, str(path))


def parse_advisories(text: str, file: str = "<advisories>") -> tuple[Advisory, ...]:
    """Every entry checked; the first broken one raises AdvisoryFileError (a half-read file would hide advisories)."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "file"
        raise AdvisoryFileError(file, where, "-", f"not YAML: {getattr(exc, 'problem', None) or exc}") from None
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise AdvisoryFileError(file, "file", "-", "must be a list of advisories")
    advisories: list[Advisory] = []
    seen: set[str] = set()
    for index, entry in enumerate(raw, start=1):
        label = f"entry {index}"
        if isinstance(entry, Mapping) and isinstance(entry.get("id"), str):
            label += f" ({entry['id']})"
        advisory = _advisory(entry, file, label)
        if advisory.id in seen:
            raise AdvisoryFileError(file, label, "id", f"{advisory.id!r} is listed twice")
        seen.add(advisory.id)
        advisories.append(advisory)
    return tuple(advisories)


def _advisory(entry: Any, file: str, label: str) -> Advisory:
    def bad(field: str, message: str) -> AdvisoryFileError:
        return AdvisoryFileError(file, label, field, message)

    if not isinstance(entry, Mapping):
        raise bad("-", "must be a mapping")
    unknown = sorted(str(k) for k in entry if k not in FIELDS)
    if unknown:
        raise bad(unknown[0], f"unknown field (known: {', '.join(FIELDS)})")
    for name in ("id", "platform", "severity", "title"):
        if not isinstance(entry.get(name), str) or not entry[name].strip():
            raise bad(name, "is required (text)")
    platform = entry["platform"]
    if platform not in PLATFORMS:
        raise bad("platform", f"{platform!r} is not one of {', '.join(PLATFORMS)}")
    severity = entry["severity"]
    if severity not in SEVERITIES:
        raise bad("severity", f"{severity!r} is not one of {', '.join(SEVERITIES)}")
    url = entry.get("url")
    if url is not None and not isinstance(url, str):
        raise bad("url", "must be text")
    models = entry.get("models", [])
    if not isinstance(models, list) or not all(isinstance(m, str) and m for m in models):
        raise bad("models", "must be a list of model patterns")
    affected = entry.get("affected")
    if not isinstance(affected, list) or not affected:
        raise bad("affected", "needs at least one version range")
    ranges = tuple(_range(item, platform, f"affected[{i}]", bad) for i, item in enumerate(affected))
    return Advisory(entry["id"].strip(), platform, severity, entry["title"].strip(), ranges, url, tuple(models))


def _range(item: Any, platform: str, field: str, bad: Any) -> VersionRange:
    if not isinstance(item, Mapping) or not item:
        raise bad(field, f"must be a mapping with one or more of {', '.join(BOUNDS)}")
    unknown = sorted(str(k) for k in item if k not in BOUNDS)
    if unknown:
        raise bad(f"{field}.{unknown[0]}", f"unknown bound (known: {', '.join(BOUNDS)})")
    if "version" in item and len(item) > 1:
        raise bad(field, "'version' is one release: no other bound beside it")
    if "to" in item and "before" in item:
        raise bad(field, "'to' (inclusive) and 'before' (exclusive) together")
    keys: dict[str, Version] = {}
    for bound in item:
        value = item[bound]
        if not isinstance(value, str | int | float):
            raise bad(f"{field}.{bound}", "must be a version string")
        try:
            keys[bound] = version_key(platform, str(value))
        except VersionError as exc:
            raise bad(f"{field}.{bound}", str(exc)) from None
    if "version" in keys:
        return VersionRange(keys["version"], keys["version"])
    found = VersionRange(keys.get("from"), keys.get("to"), keys.get("before"))
    upper = found.end or found.before
    if found.start is not None and upper is not None:
        if not found.start.comparable(upper):
            raise bad(field, f"{found.start.text!r} and {upper.text!r} are of different release trains")
        if found.start.numbers > upper.numbers:
            raise bad(field, f"'from' {found.start.text!r} is after {upper.text!r}")
    return found


def firmware_advisory(platform: str, version: str | None, advisories: Iterable[Advisory],
                      model: str | None = None) -> RuleResult:
    """Fail when any advisory for the platform (and model) lists the version as affected; the severity is the worst
    of them. No version read, or one that does not parse, is `error`: never a pass."""
    if platform not in PLATFORMS:
        return RuleResult(RULE, "not-applicable", detail=f"no advisories are kept for platform {platform!r}")
    if not version:
        return RuleResult(RULE, "error", detail="no software version has been read over SSH")
    try:
        running = version_key(platform, version)
    except VersionError as exc:
        return RuleResult(RULE, "error", detail=str(exc))
    checked = [a for a in advisories if a.platform == platform and a.applies_to(model)]
    hits = [(a, r) for a in checked for r in (a.affecting(running),) if r is not None]
    if not hits:
        return RuleResult(RULE, "pass", detail=f"{version}: listed as affected by none of the {len(checked)} "
                                               f"{platform} advisories")
    worst = max((a.severity for a, _ in hits), key=SEVERITIES.index)
    listed = "; ".join(f"{a.id} ({a.severity}: {a.title}; affected {r})" for a, r in hits)
    urls = tuple(f"see {a.url}" for a, _ in hits if a.url)
    return RuleResult(RULE, "fail", severity=worst, remediation=urls,
                      detail=f"{version} is affected by {listed}")


def version_of(samples: Sequence[Any]) -> tuple[str | None, str | None]:
    """(version, model) from a device's latest samples: the SSH collector's `device_facts` info series carries
    them as tags (see collectors/ssh/parse.py to_samples)."""
    for sample in samples:
        if getattr(sample, "measurement", None) == "device_facts":
            tags = dict(sample.tags)
            return tags.get("version") or None, tags.get("model") or None
    return None, None
