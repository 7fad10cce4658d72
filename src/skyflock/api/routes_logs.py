"""A job's central logs over HTTP: `GET /api/jobs/{id}/logs?stream=stdout|stderr|events`.

Without `follow` the answer is the log as it is now (text/plain). With
`follow=true` it is a Server-Sent Events stream: each line of the log is one
`data:` event as it is written, and a final `event: end` once the job has left
the queue (completed or removed), so `skyflock logs -f` can exit by itself.
A job that is put on hold ends the stream too, with `event: held` and its
HoldReason (a job held for its memory or walltime would otherwise be
followed forever). A job that has not started yet is waited for when
following.
Neighbours: `manager.log_path/job_finished` (the files under the data dir),
`cli.logs_cmd` (the reader).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse, StreamingResponse

from skyflock.api.deps import ManagerDep
from skyflock.api.port import ManagerPort
from skyflock.api.routes_jobs import check_job_id
from skyflock.manager.errors import NotFound

router = APIRouter(prefix="/api/jobs", tags=["logs"])

POLL_SECONDS = 0.2
HELD_CHECK_SECONDS = 1.0
"""How often a follow reads the job's status (one job by id: about a millisecond)."""
CHUNK = 1 << 16
HELD = 5


def _hold_reason(manager: ManagerPort, job_id: str) -> str | None:
    """The job's HoldReason when it is held, else None."""
    ads = manager.query(ids=[job_id], projection=["JobStatus", "HoldReason"])
    if not ads or ads[0].eval("JobStatus") != HELD:
        return None
    reason = ads[0].eval("HoldReason")
    return " ".join(reason.split()) if isinstance(reason, str) and reason.strip() else "held"


def _sse_lines(lines: list[str]) -> bytes:
    return "".join(f"data: {line}\n\n" for line in lines).encode()


async def follow_log(
    manager: ManagerPort, job_id: str, stream: Literal["stdout", "stderr", "events"]
) -> AsyncIterator[bytes]:
    """SSE events with the log's lines until the job has finished."""
    offset = 0
    pending = b""
    checked = 0.0
    yield b": following " + f"{stream} of job {job_id}".encode() + b"\n\n"
    while True:
        finished = manager.job_finished(job_id)
        held = None
        now = time.monotonic()
        if not finished and now - checked >= HELD_CHECK_SECONDS:
            checked = now
            held = _hold_reason(manager, job_id)
        path: Path | None
        try:
            path = manager.log_path(job_id, stream)
        except NotFound:
            path = None
        if path is not None and path.exists():
            with path.open("rb") as fh:
                if stream == "events" and path.stat().st_size < offset:
                    offset = 0
                fh.seek(offset)
                while chunk := fh.read(CHUNK):
                    offset += len(chunk)
                    pending += chunk
                    *complete, pending = pending.split(b"\n")
                    if complete:
                        yield _sse_lines([c.decode("utf-8", "replace") for c in complete])
        if finished or held is not None:
            if pending:
                yield _sse_lines([pending.decode("utf-8", "replace")])
            if held is not None:
                yield b"event: held\n" + _sse_lines([held])
            else:
                yield b"event: end\ndata: the job has finished\n\n"
            return
        await asyncio.sleep(POLL_SECONDS)


@router.get("/{job_id}/logs", response_model=None)
async def logs(
    job_id: str,
    manager: ManagerDep,
    stream: Annotated[Literal["stdout", "stderr", "events"], Query()] = "stdout",
    follow: Annotated[bool, Query(description="Stream (SSE) until the job finishes.")] = False,
) -> PlainTextResponse | StreamingResponse:
    """The job's stdout, stderr or event log; `follow=true` streams it."""
    check_job_id(job_id)
    manager.job_events(job_id)  # 404 for an unknown job
    if follow:
        return StreamingResponse(
            follow_log(manager, job_id, stream),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
    path = manager.log_path(job_id, stream)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        text = ""
    return PlainTextResponse(text)
