"""The one small data model that flows inventory -> collectors -> samples -> sinks/alerts -> API."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import NamedTuple

Tags = tuple[tuple[str, str], ...]


class Sample(NamedTuple):
    """One point: Influx-shaped (measurement, identity tags, numeric fields, time).

    Tags are a sorted tuple of pairs so a sample is hashable and its identity is stable;
    the Prometheus view turns each field into `yiwang_<measurement>_<field>`.
    """

    measurement: str
    tags: Tags
    fields: Mapping[str, float]
    time_ns: int

    def tag(self, key: str, default: str = "") -> str:
        for k, v in self.tags:
            if k == key:
                return v
        return default

    @property
    def series_key(self) -> tuple[str, Tags]:
        return (self.measurement, self.tags)


def make_tags(**pairs: str) -> Tags:
    return tuple(sorted((k, v) for k, v in pairs.items() if v != ""))


def now_ns() -> int:
    return time.time_ns()
