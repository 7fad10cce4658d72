"""Fair share over HTTP: `GET /api/userprio` and `POST /api/userprio/{submitter}`.

The update sets a submitter's priority factor, floor and/or ceiling (what
condor_userprio's -setfactor and the group floor/ceiling knobs do); fields left
out keep their value. Neighbours: `manager.userprio/set_userprio`, `cli.userprio_cmd`.
"""

from __future__ import annotations

from fastapi import APIRouter

from skyflock.api.deps import ManagerDep
from skyflock.api.schemas import UserprioUpdate
from skyflock.manager.results import SubmitterPriority

router = APIRouter(prefix="/api/userprio", tags=["fair share"])


@router.get("", response_model=list[SubmitterPriority])
async def userprio(manager: ManagerDep) -> list[SubmitterPriority]:
    """Every known submitter, best (lowest) effective priority first."""
    return manager.userprio()


@router.post("/{submitter}", response_model=SubmitterPriority)
async def set_userprio(
    submitter: str, body: UserprioUpdate, manager: ManagerDep
) -> SubmitterPriority:
    """Set the submitter's factor, floor or ceiling."""
    return await manager.set_userprio(
        submitter, factor=body.factor, floor=body.floor, ceiling=body.ceiling
    )
