"""`GET /api/cluster`: the poller group and this core as the core sees them (yiwang.cluster.view); the same data as
`yiwang cluster status --json`, plus the core's election and the results stream's backlog."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter

from api.security import Reader

if TYPE_CHECKING:
    from yiwang.cluster.view import ClusterView


def cluster_routes(view: ClusterView | None) -> APIRouter:
    router = APIRouter(tags=["cluster"])

    @router.get("/api/cluster", summary="The poller group (members, leases, shares, lag), this core's election and "
                                        "the results stream's backlog; {\"cluster\": null} without a cluster")
    def cluster(_: Reader) -> dict[str, Any]:
        # Memory only: the core refreshes the snapshot on a timer, a request never waits on the engine.
        return {"cluster": None if view is None else view.answer()}

    return router
