"""Finished jobs over HTTP: `GET /api/history?constraint=...&limit=N` (newest first).

The read runs in a worker thread (`api.reads`), off the scheduler's loop.
Neighbours: `manager.history` (the store's history table), `api.schemas`, `api.reads`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from skyflock.api.deps import ManagerDep
from skyflock.api.reads import OffLoopDep
from skyflock.api.schemas import AdForm, AdsResponse, ads_response

router = APIRouter(prefix="/api/history", tags=["history"])


@router.get("", response_model=AdsResponse)
async def history(
    manager: ManagerDep,
    off_loop: OffLoopDep,
    constraint: Annotated[str | None, Query(description="A ClassAd expression.")] = None,
    limit: Annotated[int, Query(ge=1, le=100_000)] = 100,
    form: Annotated[AdForm, Query(description="json objects, or new/old ClassAd text.")] = "json",
) -> Response:
    """Completed and removed jobs matching the constraint."""

    def read() -> Response:
        return ads_response(manager.history(constraint, limit=limit), form)

    return await off_loop(read)
