"""The cluster as the core answers it: `GET /api/cluster` and the `yiwang_cluster_*` series of /metrics.

One snapshot, refreshed on a timer by the core (`ClusterView.refresh`, a job of its monitor): the poller group as
`yiwang cluster status --json` gives it, and the results stream's consumer group (XINFO GROUPS: pending, lag). A
request or a scrape reads memory and never waits on Redis; the price is that the answer is up to one refresh old
(`refreshed_at` says when). The core's own election state is read at request time: it is local.

The series are samples in the latest store (device-less, collector "cluster"), so /metrics renders them with the
rest: measurement `cluster` (members, epoch, stream_pending, stream_lag) and `cluster_member` tagged `member`
(devices, lease_seconds, lag_slots; a member that never claimed has no lag_slots series)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import asdict
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from collectors.model import Sample
from yiwang.cluster.coordination import FAILURES, ClusterStatus, cluster_status
from yiwang.cluster.transport import GROUP, STREAM
from yiwang.latest import LatestStore

SAMPLES_DEVICE = ""  # the latest store's owner of the cluster's series: no device
SAMPLES_COLLECTOR = "cluster"


async def stream_state(client: aioredis.Redis, stream: str = STREAM, group: str = GROUP) -> dict[str, Any]:
    """The results stream and the core's consumer group: length, pending (delivered, not acknowledged), lag
    (entries not yet delivered; None when Redis cannot say, after a trim), last delivered id."""
    try:
        length = int(await client.xlen(stream))
        groups = await client.xinfo_groups(stream)
    except ResponseError as exc:  # no stream yet: nobody published
        if "no such key" in str(exc).lower():
            return {"length": 0, "pending": 0, "lag": 0, "last_delivered_id": None}
        raise
    for found in groups:
        name = found.get("name")
        if (name.decode() if isinstance(name, bytes) else name) == group:
            last = found.get("last-delivered-id")
            lag = found.get("lag")
            return {"length": length, "pending": int(found.get("pending", 0)),
                    "lag": None if lag is None else int(lag),
                    "last_delivered_id": last.decode() if isinstance(last, bytes) else last}
    # the stream exists but no core ever joined: everything is lag
    return {"length": length, "pending": 0, "lag": length, "last_delivered_id": None}


def cluster_samples(status: ClusterStatus, stream: Mapping[str, Any] | None, now_ns: int) -> list[Sample]:
    """Pure: the snapshot as gauges."""
    fields: dict[str, float] = {"members": float(len(status.members)), "epoch": float(status.epoch)}
    if stream is not None:
        fields["stream_pending"] = float(stream["pending"])
        if stream.get("lag") is not None:
            fields["stream_lag"] = float(stream["lag"])
    samples = [Sample("cluster", (("group", status.group),), fields, now_ns)]
    for m in status.members:
        member: dict[str, float] = {"devices": float(m.devices), "lease_seconds": m.lease_remaining_s}
        if m.lag_slots is not None:
            member["lag_slots"] = float(m.lag_slots)
        samples.append(Sample("cluster_member", (("group", status.group), ("member", m.name)), member, now_ns))
    return samples


class ClusterView:
    def __init__(self, url: str, group: str, interval_s: float, client: aioredis.Redis, latest: LatestStore,
                 core: Callable[[], dict[str, Any]]) -> None:
        self.url = url
        self.group = group
        self.interval_s = interval_s
        self.client = client
        self.latest = latest
        self.core = core  # this core's election state, read when asked
        self._snapshot: dict[str, Any] | None = None

    async def refresh(self) -> None:
        status = await cluster_status(self.url, self.group, self.interval_s)
        stream: dict[str, Any] | None
        try:
            stream = await stream_state(self.client)
        except FAILURES as exc:
            stream = None
            status = status if status.error else ClusterStatus(status.group, status.epoch, status.leader,
                                                               status.current_slot, status.members,
                                                               error=f"stream: {type(exc).__name__}: {exc}")
        self._snapshot = {**asdict(status), "stream": stream, "refreshed_at": time.time()}
        # An engine away: the last good series go too, rather than stay frozen looking current.
        self.latest.replace(SAMPLES_DEVICE, SAMPLES_COLLECTOR,
                            [] if status.error else cluster_samples(status, stream, time.time_ns()))

    def answer(self) -> dict[str, Any]:
        """What `GET /api/cluster` says: the last snapshot (None before the first refresh) and the core."""
        snapshot = dict(self._snapshot) if self._snapshot is not None else {"group": self.group, "error": "not yet"}
        return {**snapshot, "core": self.core()}
