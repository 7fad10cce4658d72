"""The manager facade as the API uses it: a `typing.Protocol`.

The routes depend on this shape, not on `manager.service.Manager` itself, so
what the HTTP layer needs of the server is written down in one place. The
result types are the manager's frozen dataclasses (`manager.results`); errors
a person must fix are `manager.errors.UserError` subclasses, which `app.py`
turns into JSON answers.
Neighbours: `manager.service.Manager` implements it; `api.routes_*` and
`api.metrics` call it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal, Protocol

from skyflock.classad import ClassAd
from skyflock.manager.results import (
    ActionResult,
    Analysis,
    ClusterInfo,
    JobEvent,
    ManagerStats,
    SubmitResult,
    SubmitterPriority,
)

LogStream = Literal["stdout", "stderr", "events"]


class ManagerPort(Protocol):
    """What the API asks of the manager."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def submit(
        self,
        text: str,
        *,
        filename: str,
        base_dir: str,
        owner: str,
        environ: Mapping[str, str] | None = None,
    ) -> SubmitResult: ...

    async def submit_ads(self, ads: Sequence[ClassAd], *, owner: str) -> SubmitResult: ...

    def query(
        self,
        constraint: str | None = None,
        *,
        ids: Sequence[str] = (),
        projection: Sequence[str] = (),
        limit: int | None = None,
    ) -> list[ClassAd]: ...

    def history(self, constraint: str | None = None, *, limit: int = 100) -> list[ClassAd]: ...

    async def remove(
        self, ids: Sequence[str] = (), constraint: str | None = None, reason: str = ""
    ) -> ActionResult: ...

    async def hold(
        self, ids: Sequence[str] = (), constraint: str | None = None, reason: str = ""
    ) -> ActionResult: ...

    async def release(
        self, ids: Sequence[str] = (), constraint: str | None = None
    ) -> ActionResult: ...

    async def qedit(
        self,
        ids: Sequence[str] = (),
        constraint: str | None = None,
        *,
        attribute: str,
        expression: str,
    ) -> ActionResult: ...

    def job_events(self, job_id: str) -> list[JobEvent]: ...

    def log_path(self, job_id: str, stream: LogStream) -> Path: ...

    def job_finished(self, job_id: str) -> bool: ...

    def slots(self) -> list[ClassAd]: ...

    def clusters(self) -> list[ClusterInfo]: ...

    def userprio(self) -> list[SubmitterPriority]: ...

    async def set_userprio(
        self,
        submitter: str,
        *,
        factor: float | None = None,
        floor: float | None = None,
        ceiling: float | None = None,
    ) -> SubmitterPriority: ...

    def analyze(self, job_id: str) -> Analysis: ...

    def config(self) -> Mapping[str, object]: ...

    def stats(self) -> ManagerStats: ...
