"""How a route reaches the manager: the FastAPI dependency `manager_of`.

`create_app` stores the facade on `app.state.manager`; every route takes it
through `Depends(manager_of)`, typed as the `ManagerPort` Protocol.
Neighbours: `api.app` (sets it), `api.routes_*` (use it).
"""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import Depends, Request

from skyflock.api.port import ManagerPort


def manager_of(request: Request) -> ManagerPort:
    return cast(ManagerPort, request.app.state.manager)


ManagerDep = Annotated[ManagerPort, Depends(manager_of)]
