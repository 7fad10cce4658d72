"""The pool over HTTP: slots, clusters and the manager's counters.

    GET /api/slots      partitionable slot ads with what is left (ClusterName included)
    GET /api/clusters   federation members: cores and memory total/used, health
    GET /api/stats      jobs by status and submitter, negotiation cycle figures

Neighbours: `manager.slots/clusters/stats`; `cli.status_cmd` and `cli.demo_cmd`
read these.
"""

from __future__ import annotations

from fastapi import APIRouter

from skyflock.api.deps import ManagerDep
from skyflock.api.schemas import AdsResponse, ClusterOut, ClusterStatsOut, StatsOut

router = APIRouter(prefix="/api", tags=["pool"])


@router.get("/slots", response_model=AdsResponse)
async def slots(manager: ManagerDep) -> AdsResponse:
    """Every partitionable slot of every cluster."""
    return AdsResponse.of(manager.slots())


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
