"""The pool over HTTP: slots, clusters and the manager's counters.

    GET /api/slots      partitionable slot ads with what is left (ClusterName included)
    GET /api/clusters   federation members: cores and memory total/used, health
    GET /api/stats      jobs by status and submitter, negotiation cycle figures

Neighbours: `manager.slots/clusters/stats`; `cli.status_cmd` and `cli.demo_cmd`
read these.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from skyflock.api.deps import ManagerDep
from skyflock.api.schemas import (
    AdForm,
    AdsResponse,
    ClusterOut,
    ClusterStatsOut,
    StatsOut,
    ads_response,
)

router = APIRouter(prefix="/api", tags=["pool"])


@router.get("/slots", response_model=AdsResponse)
async def slots(manager: ManagerDep, form: Annotated[AdForm, Query()] = "json") -> Response:
    """Every partitionable slot of every cluster."""
    return ads_response(manager.slots(), form)


@router.get("/clusters", response_model=list[ClusterOut])
async def clusters(manager: ManagerDep) -> list[ClusterOut]:
    """The federation's clusters."""
    return [ClusterOut.of(c) for c in manager.clusters()]


@router.get("/stats", response_model=StatsOut)
async def stats(manager: ManagerDep) -> StatsOut:
    """Queue counts and negotiation figures (JobStatus codes as keys)."""
    s = manager.stats()
    return StatsOut(
        jobs_by_status={str(k): v for k, v in s.jobs_by_status.items()},
        jobs_by_submitter={
            name: {str(k): v for k, v in counts.items()}
            for name, counts in s.jobs_by_submitter.items()
        },
        cycles=s.cycles,
        last_cycle_seconds=s.last_cycle_seconds,
        last_cycle_matches=s.last_cycle_matches,
        total_matches=s.total_matches,
        total_preemptions=s.total_preemptions,
        completed_total=s.completed_total,
        clusters=[
            ClusterStatsOut(
                name=c.name, slots=c.slots, cores_total=c.cores_total, cores_used=c.cores_used
            )
            for c in s.clusters
        ],
    )
