"""The job queue over HTTP: submit, query, one job, its events, and the user actions.

    POST /api/jobs                 submit-file text (with filename, base_dir, owner,
                                   environ) or JSON job ads
    GET  /api/jobs                 the queue: `constraint` (ClassAd), `ids`,
                                   `projection` (attribute names, -af style), `limit`
    GET  /api/jobs/{id}            one job's ad, from the queue or the history
    GET  /api/jobs/{id}/events     its event log
    POST /api/jobs/remove|hold|release|qedit   by `ids` and/or `constraint`

Job ids are `CLUSTER.PROC`. An action naming only ids that all fail is a 404
(unknown ids) or 409 (illegal transition, e.g. releasing a running job); with
a constraint the refused jobs are listed in the answer.
The reads (the queue, one job, its events) run in a worker thread
(`api.reads`), so a client polling a big queue does not stall the scheduler.
Neighbours: `api.schemas` (bodies), `api.port` (the facade), `api.reads`, `api.app`.
"""

from __future__ import annotations

import getpass
import os
import re
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from skyflock.api.deps import ManagerDep
from skyflock.api.port import ManagerPort
from skyflock.api.reads import OffLoopDep
from skyflock.api.schemas import (
    ActionRequest,
    AdForm,
    AdsResponse,
    JobOut,
    QeditRequest,
    Selection,
    SubmitRequest,
    ad_from_request,
    ad_json_text,
    ads_response,
)
from skyflock.manager.errors import BadInput, NotFound
from skyflock.manager.results import ActionResult, JobEvent, SubmitResult

router = APIRouter(prefix="/api/jobs", tags=["jobs"])

JOB_ID = re.compile(r"^\d+\.\d+$")


def check_job_id(job_id: str) -> str:
    if not JOB_ID.match(job_id):
        raise BadInput(f"job id {job_id!r}: expected CLUSTER.PROC, like 12.0")
    return job_id


def _server_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return os.environ.get("USER", "nobody")


def split_list(values: list[str] | None) -> list[str]:
    """Query lists given repeated (`?a=x&a=y`) or comma-separated (`?a=x,y`)."""
    out: list[str] = []
    for value in values or []:
        out.extend(part.strip() for part in value.split(",") if part.strip())
    return out


@router.post("", status_code=201, response_model=SubmitResult)
async def submit(body: SubmitRequest, manager: ManagerDep) -> SubmitResult:
    """Queue jobs: the text of a submit description, or job ads in JSON form."""
    owner = body.owner or _server_user()
    if body.submit is not None:
        base_dir = body.base_dir or os.getcwd()
        if not os.path.isabs(base_dir):
            raise BadInput(f"base_dir {base_dir!r}: give an absolute path")
        return await manager.submit(
            body.submit,
            filename=body.filename,
            base_dir=base_dir,
            owner=owner,
            environ=body.environ,
        )
    ads = [ad_from_request(obj, f"ads[{i}]") for i, obj in enumerate(body.ads or [])]
    return await manager.submit_ads(ads, owner=owner)


@router.get("", response_model=AdsResponse)
async def query(
    manager: ManagerDep,
    off_loop: OffLoopDep,
    constraint: Annotated[str | None, Query(description="A ClassAd expression.")] = None,
    ids: Annotated[list[str] | None, Query(description="Job ids CLUSTER.PROC.")] = None,
    projection: Annotated[
        list[str] | None, Query(description="Attribute names to return (-af style).")
    ] = None,
    limit: Annotated[int | None, Query(ge=1)] = None,
    form: Annotated[AdForm, Query(description="json objects, or new/old ClassAd text.")] = "json",
) -> Response:
    """The live queue, filtered by constraint and ids, optionally projected."""
    id_list = [check_job_id(i) for i in split_list(ids)]

    def read() -> Response:
        ads = manager.query(constraint, ids=id_list, projection=split_list(projection), limit=limit)
        return ads_response(ads, form)

    return await off_loop(read)


@router.get("/{job_id}", response_model=JobOut)
async def job(
    job_id: str,
    manager: ManagerDep,
    off_loop: OffLoopDep,
    form: Annotated[AdForm, Query()] = "json",
) -> Response:
    """One job's full ad, from the queue or else the history; `where` says which."""
    return await off_loop(_job_answer, manager, check_job_id(job_id), form)


def _job_answer(manager: ManagerPort, job_id: str, form: AdForm) -> Response:
    where = "queue"
    found = manager.query(ids=[job_id])
    if not found:
        cluster, _, proc = job_id.partition(".")
        where = "history"
        found = manager.history(f"ClusterId == {cluster} && ProcId == {proc}", limit=1)
    if not found:
        raise NotFound(f"no job {job_id} in the queue or the history")
    text = '{"where": "' + where + '", "ad": ' + ad_json_text(found[0], form) + "}"
    return Response(text, media_type="application/json")


@router.get("/{job_id}/events", response_model=list[JobEvent])
async def events(job_id: str, manager: ManagerDep, off_loop: OffLoopDep) -> list[JobEvent]:
    """The job's event log, oldest first."""
    return await off_loop(manager.job_events, check_job_id(job_id))


def _ids(selection: Selection) -> list[str]:
    return [check_job_id(i) for i in selection.ids]


@router.post("/remove", response_model=ActionResult)
async def remove(body: ActionRequest, manager: ManagerDep) -> ActionResult:
    """Remove jobs (running ones are vacated)."""
    return await manager.remove(_ids(body), body.constraint, reason=body.reason)


@router.post("/hold", response_model=ActionResult)
async def hold(body: ActionRequest, manager: ManagerDep) -> ActionResult:
    """Hold jobs (running ones are vacated)."""
    return await manager.hold(_ids(body), body.constraint, reason=body.reason)


@router.post("/release", response_model=ActionResult)
async def release(body: Selection, manager: ManagerDep) -> ActionResult:
    """Release held jobs back to idle."""
    return await manager.release(_ids(body), body.constraint)


@router.post("/qedit", response_model=ActionResult)
async def qedit(body: QeditRequest, manager: ManagerDep) -> ActionResult:
    """Set one attribute of queued jobs to a ClassAd expression.

    A running job keeps running; the new value counts from then on (periodic
    expressions, its next match)."""
    return await manager.qedit(
        _ids(body), body.constraint, attribute=body.attribute, expression=body.expression
    )
