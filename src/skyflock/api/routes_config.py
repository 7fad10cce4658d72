"""The server's effective configuration: `GET /api/config` (JSON, secrets masked).

Neighbours: `manager.config` (settings and negotiator config), `cli.config_cmd`.
"""

from __future__ import annotations

from fastapi import APIRouter

from skyflock.api.deps import ManagerDep

router = APIRouter(prefix="/api", tags=["server"])


@router.get("/config")
async def config(manager: ManagerDep) -> dict[str, object]:
    """Server, negotiator and cluster settings in effect."""
    return dict(manager.config())
