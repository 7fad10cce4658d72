"""Why a job is (not) running: `GET /api/jobs/{id}/analyze`.

The answer carries the text (`condor_q -better-analyze` style) and the data of
the last negotiation cycle's explanation. Neighbours: `manager.analyze`
(`core.explain`), `cli.analyze_cmd` and `q -analyze`.
"""

from __future__ import annotations

from fastapi import APIRouter

from skyflock.api.deps import ManagerDep
from skyflock.api.routes_jobs import check_job_id
from skyflock.api.schemas import AnalysisOut

router = APIRouter(prefix="/api/jobs", tags=["jobs"])


@router.get("/{job_id}/analyze", response_model=AnalysisOut)
async def analyze(job_id: str, manager: ManagerDep) -> AnalysisOut:
    """The last cycle's explanation for the job."""
    return AnalysisOut.of(manager.analyze(check_job_id(job_id)))
