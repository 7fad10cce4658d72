r"""Request and response bodies of the API (pydantic), and ClassAds as JSON.

Job and slot ads travel in HTCondor's JSON form (`ClassAd.format("json")`):
literal values as JSON values, expressions as `"\/Expr(...)\/"` strings, so a
client can rebuild the ad with `ClassAd.parse`. The models here give the
OpenAPI document at `/docs` its shapes.
Neighbours: `api.routes_*` build these from `manager.results`; the CLI reads
the same JSON.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from typing import Any, Literal

from fastapi.responses import Response
from pydantic import BaseModel, Field, model_validator

from skyflock.classad import ClassAd, ClassAdSyntaxError
from skyflock.manager.errors import BadInput
from skyflock.manager.results import (
    ActionResult,
    Analysis,
    ClusterInfo,
    JobEvent,
    SubmitResult,
    SubmitterPriority,
)

AdForm = Literal["json", "new", "old"]


def ads_json_text(ads: Sequence[ClassAd], form: AdForm = "json") -> str:
    r"""`{"count": N, "ads": [...]}` as JSON text.

    In the `json` form each ad is an object in HTCondor's JSON form written
    verbatim, so the escaped `"\/Expr(...)\/"` marker of an expression
    survives (a JSON decoder would make it an ordinary string); in the `new`
    and `old` forms each ad is one JSON string of ClassAd text, which any
    client can decode and hand to `ClassAd.parse`.
    """
    if form == "json":
        items = [ad.format("json") for ad in ads]
    else:
        items = [json.dumps(ad.format(form)) for ad in ads]
    return '{"count": ' + str(len(items)) + ', "ads": [' + ",\n".join(items) + "]}"


def ad_json_text(ad: ClassAd, form: AdForm = "json") -> str:
    """One ad as a JSON value: an object (`json`) or a string of ClassAd text."""
    return ad.format("json") if form == "json" else json.dumps(ad.format(form))


def ads_response(ads: Sequence[ClassAd], form: AdForm = "json") -> Response:
    return Response(ads_json_text(ads, form), media_type="application/json")


def ad_from_request(item: str | dict[str, Any], where: str) -> ClassAd:
    """A job ad sent by a client: ClassAd text in any form, or a JSON object of literals."""
    try:
        text = item if isinstance(item, str) else json.dumps(item)
        return ClassAd.parse(text)
    except (ClassAdSyntaxError, ValueError, TypeError, KeyError) as exc:
        raise BadInput(f"{where}: not a ClassAd: {exc}") from None


# -- requests --------------------------------------------------------------------------------


class SubmitRequest(BaseModel):
    """Either `submit` (the text of a submit description) or `ads` (job ads as JSON)."""

    submit: str | None = Field(None, description="The text of an HTCondor submit description.")
    filename: str = Field("<submit>", description="Names the description in messages.")
    base_dir: str | None = Field(
        None, description="The submit directory: relative paths are relative to it."
    )
    owner: str | None = Field(None, description="Owner of the jobs (the server's user if unset).")
    environ: dict[str, str] | None = Field(
        None, description="What getenv and $ENV() see while the description is read."
    )
    ads: list[str | dict[str, Any]] | None = Field(
        None,
        description="Job ads instead of `submit`: each one ClassAd text (new, old or "
        "HTCondor JSON form, as a string), or a JSON object of literal values.",
    )

    @model_validator(mode="after")
    def _one_of(self) -> SubmitRequest:
        if (self.submit is None) == (self.ads is None):
            raise ValueError("give exactly one of `submit` (submit-file text) or `ads`")
        return self


class Selection(BaseModel):
    """Jobs named by id (`12.0`, or a whole cluster `12`) and/or a ClassAd constraint."""

    ids: list[str] = Field(default_factory=list)
    constraint: str | None = None


class ActionRequest(Selection):
    reason: str = ""


class QeditRequest(Selection):
    attribute: str = Field(..., min_length=1)
    expression: str = Field(..., min_length=1, description="A ClassAd expression.")


class UserprioUpdate(BaseModel):
    factor: float | None = Field(None, gt=0, description="Priority factor (>= 1 usual).")
    floor: float | None = Field(None, ge=0, description="Fewest cores kept for the submitter.")
    ceiling: float | None = Field(None, ge=0, description="Most cores the submitter may use.")

    @model_validator(mode="after")
    def _something(self) -> UserprioUpdate:
        if self.factor is None and self.floor is None and self.ceiling is None:
            raise ValueError("give at least one of factor, floor, ceiling")
        return self


# -- responses -------------------------------------------------------------------------------


class SubmitResponse(BaseModel):
    cluster_id: int
    count: int
    procs: list[str]
    warnings: list[str]

    @classmethod
    def of(cls, result: SubmitResult) -> SubmitResponse:
        return cls(
            cluster_id=result.cluster_id,
            count=len(result.procs),
            procs=list(result.procs),
            warnings=list(result.warnings),
        )


class Refusal(BaseModel):
    id: str
    reason: str


class ActionResponse(BaseModel):
    action: str
    changed: list[str]
    refused: list[Refusal]

    @classmethod
    def of(cls, result: ActionResult) -> ActionResponse:
        return cls(
            action=result.action,
            changed=list(result.changed),
            refused=[Refusal(id=i, reason=r) for i, r in result.refused],
        )


class AdsResponse(BaseModel):
    """The shape of ad lists (for /docs): objects in HTCondor's JSON form, or
    strings of ClassAd text with `form=new|old`."""

    count: int
    ads: list[dict[str, Any] | str]


class JobOut(BaseModel):
    """One job: `where` is `queue` or `history`; `ad` as in `AdsResponse`."""

    where: str
    ad: dict[str, Any] | str


class EventOut(BaseModel):
    seq: int
    job_id: str
    time: float
    kind: str
    cluster: str | None = None
    slot: str | None = None
    code: int | None = None
    subcode: int | None = None
    message: str | None = None

    @classmethod
    def of(cls, event: JobEvent) -> EventOut:
        return cls(**dataclasses.asdict(event))


class ClusterOut(BaseModel):
    name: str
    kind: str
    tier: int
    cores_total: int
    cores_used: int
    memory_total_mib: int
    memory_used_mib: int
    slots: int
    running_jobs: int
    healthy: bool
    cordoned: bool
    message: str

    @classmethod
    def of(cls, info: ClusterInfo) -> ClusterOut:
        return cls(**dataclasses.asdict(info))


class PriorityOut(BaseModel):
    submitter: str
    group: str
    real_priority: float
    effective_priority: float
    priority_factor: float
    accumulated_usage: float
    running: int
    idle: int
    floor: float | None = None
    ceiling: float | None = None

    @classmethod
    def of(cls, prio: SubmitterPriority) -> PriorityOut:
        return cls(**dataclasses.asdict(prio))


class AnalysisOut(BaseModel):
    job_id: str
    status: int
    text: str
    data: dict[str, Any]

    @classmethod
    def of(cls, analysis: Analysis) -> AnalysisOut:
        return cls(
            job_id=analysis.job_id,
            status=analysis.status,
            text=analysis.text,
            data=dict(analysis.data),
        )


class ClusterStatsOut(BaseModel):
    name: str
    slots: int
    cores_total: int
    cores_used: int


class StatsOut(BaseModel):
    jobs_by_status: dict[str, int]
    jobs_by_submitter: dict[str, dict[str, int]]
    cycles: int
    last_cycle_seconds: float
    last_cycle_matches: int
    total_matches: int
    total_preemptions: int
    completed_total: int
    clusters: list[ClusterStatsOut]


class ErrorOut(BaseModel):
    error: str
