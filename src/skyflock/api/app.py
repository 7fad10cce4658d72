"""The FastAPI application: `create_app(manager)`.

The app's lifespan starts the manager (store, backends, loop) and stops it on
shutdown. Every error leaves as JSON `{"error": "..."}` with a message a person
can act on: the manager's `UserError`s keep their status (400 malformed input,
404 unknown ids, 409 illegal transitions, 413 too large), a request that does
not fit the schema is a 422 naming the field, and a body over the limit is a
413 from `limits.BodySizeLimit`; anything else that goes wrong is a bug,
answered as a 500 in the same JSON form while the server's log keeps the
traceback. OpenAPI is at `/docs`, Prometheus at
`/metrics`, liveness at `/healthz`.

Routes are `async def` on purpose: they run on the event loop the manager's
loop runs on, so facade calls never race the loop from another thread. The
store-only reads (queue, history, events) are the exception: they run in a
worker thread through `api.reads`, which says why that is safe.
Neighbours: `api.routes_*` (the resources), `api.metrics`, `api.limits`,
`manager.server.serve` (runs this under uvicorn).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from skyflock import __version__
from skyflock.api import (
    routes_analyze,
    routes_config,
    routes_history,
    routes_jobs,
    routes_logs,
    routes_pool,
    routes_userprio,
)
from skyflock.api.limits import DEFAULT_MAX_BODY, BodySizeLimit
from skyflock.api.metrics import install as install_metrics
from skyflock.api.port import ManagerPort
from skyflock.api.schemas import ERROR_RESPONSES
from skyflock.manager.errors import UserError


def _field(loc: Any) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path")]
    return ".".join(parts) or "request"


def _validation_message(exc: RequestValidationError) -> str:
    problems = []
    for err in exc.errors()[:5]:
        if err.get("type") == "json_invalid":
            error = (err.get("ctx") or {}).get("error") or "it does not parse"
            problems.append(f"the request body is not JSON: {error} (send JSON, see /docs)")
            continue
        msg = str(err.get("msg", "invalid"))
        msg = msg.removeprefix("Value error, ")
        problems.append(f"{_field(err.get('loc', ()))}: {msg}")
    return "; ".join(problems) or "the request does not match the API schema (see /docs)"


def create_app(manager: ManagerPort, *, max_body: int = DEFAULT_MAX_BODY) -> FastAPI:
    """The API over `manager`; the app's lifespan starts and stops it."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await manager.start()
        try:
            yield
        finally:
            await manager.stop()

    app = FastAPI(
        title="skyflock",
        version=__version__,
        description="Federated batch system: queue, matchmaking, fair share, logs.",
        lifespan=lifespan,
    )
    app.state.manager = manager
    app.add_middleware(BodySizeLimit, max_bytes=max_body)

    @app.exception_handler(UserError)
    async def _user_error(request: Request, exc: UserError) -> JSONResponse:
        return JSONResponse({"error": exc.message}, status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"error": _validation_message(exc)}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = str(exc.detail)
        if exc.status_code == 404 and message == "Not Found":
            message = f"no such API path: {request.url.path} (the API is listed at /docs)"
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            allowed = headers.get("Allow") or headers.get("allow") or "?"
            message = (
                f"{request.method} is not allowed on {request.url.path}: "
                f"use {allowed} (the API is listed at /docs)"
            )
        return JSONResponse({"error": message}, status_code=exc.status_code, headers=headers)

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> JSONResponse:
        # A bug, not a user mistake: the answer says so in one line; starlette re-raises
        # the exception after this answer, so the server's log gets the traceback.
        message = (
            f"the server failed on {request.method} {request.url.path}: "
            f"{type(exc).__name__}: {exc} (a bug; the server's log has the details)"
        )
        return JSONResponse({"error": message}, status_code=500)

    @app.get("/healthz", tags=["server"])
    async def healthz() -> dict[str, str]:
        """Liveness: answers while the server and its loop are up."""
        return {"status": "ok", "version": __version__}

    for module in (
        routes_jobs,
        routes_logs,
        routes_analyze,
        routes_history,
        routes_pool,
        routes_userprio,
        routes_config,
    ):
        app.include_router(module.router, responses=ERROR_RESPONSES)
    install_metrics(app, manager)
    return app
