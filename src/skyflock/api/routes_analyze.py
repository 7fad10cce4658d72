"""Why a job is (not) running: `GET /api/jobs/{id}/analyze`.

The answer carries the text (`condor_q -better-analyze` style) and the data of
the last negotiation cycle's explanation. Neighbours: `manager.analyze`
(`core.explain`), `cli.analyze_cmd` and `q -analyze`.
"""

from __future__ import annotations

from fastapi import APIRouter

from skyflock.api.deps import ManagerDep
from skyflock.api.routes_jobs import check_job_id
from skyflock.manager.results import Analysis

router = APIRouter(prefix="/api/jobs", tags=["jobs"])


@router.get("/{job_id}/analyze", response_model=Analysis)
async def analyze(job_id: str, manager: ManagerDep) -> Analysis:
    """The last cycle's explanation for the job."""
    return manager.analyze(check_job_id(job_id))
