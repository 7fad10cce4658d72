"""Fair share over HTTP: `GET /api/userprio` and `POST /api/userprio/{submitter}`.

The update sets a submitter's priority factor, floor and/or ceiling (what
condor_userprio's -setfactor and the group floor/ceiling knobs do); fields left
out keep their value. Neighbours: `manager.userprio/set_userprio`, `cli.userprio_cmd`.
"""

from __future__ import annotations

from fastapi import APIRouter

from skyflock.api.deps import ManagerDep
from skyflock.api.schemas import PriorityOut, UserprioUpdate

router = APIRouter(prefix="/api/userprio", tags=["fair share"])


@router.get("", response_model=list[PriorityOut])
async def userprio(manager: ManagerDep) -> list[PriorityOut]:
    """Every known submitter, best (lowest) effective priority first."""
    return [PriorityOut.of(p) for p in manager.userprio()]


@router.post("/{submitter}", response_model=PriorityOut)
async def set_userprio(submitter: str, body: UserprioUpdate, manager: ManagerDep) -> PriorityOut:
    """Set the submitter's factor, floor or ceiling."""
    prio = await manager.set_userprio(
        submitter, factor=body.factor, floor=body.floor, ceiling=body.ceiling
    )
    return PriorityOut.of(prio)
