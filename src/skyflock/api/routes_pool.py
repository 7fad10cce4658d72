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
from skyflock.api.schemas import AdForm, AdsResponse, ads_response
from skyflock.manager.results import ClusterInfo, ManagerStats

router = APIRouter(prefix="/api", tags=["pool"])


@router.get("/slots", response_model=AdsResponse)
async def slots(manager: ManagerDep, form: Annotated[AdForm, Query()] = "json") -> Response:
    """Every partitionable slot of every cluster."""
    return ads_response(manager.slots(), form)


@router.get("/clusters", response_model=list[ClusterInfo])
async def clusters(manager: ManagerDep) -> list[ClusterInfo]:
    """The federation's clusters."""
    return manager.clusters()


@router.get("/stats", response_model=ManagerStats)
async def stats(manager: ManagerDep) -> ManagerStats:
    """Queue counts and negotiation figures (JobStatus codes as keys)."""
    return manager.stats()
