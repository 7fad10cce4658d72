r"""Request and response bodies of the API (pydantic), and ClassAds as JSON.

Job and slot ads travel in HTCondor's JSON form (`ClassAd.format("json")`):
literal values as JSON values, expressions as `"\/Expr(...)\/"` strings, so a
client can rebuild the ad with `ClassAd.parse`. The models here are the
request bodies and the ad-list answers; the other answers are the facade's
own result dataclasses (`manager.results`), which give the OpenAPI document
at `/docs` their shapes directly, so there is one definition of each.
Neighbours: `api.routes_*`; the CLI reads the same JSON.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any, Literal

from fastapi.responses import Response
from pydantic import BaseModel, Field, field_validator, model_validator

from skyflock.classad import ClassAd, ClassAdSyntaxError
from skyflock.manager.errors import BadInput

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


ATTRIBUTE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
"""What HTCondor takes as an attribute name to set (condor_qedit refuses others)."""


class QeditRequest(Selection):
    attribute: str = Field(..., min_length=1, description="The attribute to set, e.g. JobPrio.")
    expression: str = Field(..., min_length=1, description="A ClassAd expression.")

    @field_validator("attribute")
    @classmethod
    def _name(cls, value: str) -> str:
        if not ATTRIBUTE_NAME.match(value):
            raise ValueError(
                f"{value!r} is not an attribute name: letters, digits and _, "
                "not starting with a digit"
            )
        return value


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
# The facade's results (`manager.results`) are the other response bodies, as they are.


class AdsResponse(BaseModel):
    """The shape of ad lists (for /docs): objects in HTCondor's JSON form, or
    strings of ClassAd text with `form=new|old`."""

    count: int
    ads: list[dict[str, Any] | str]


class JobOut(BaseModel):
    """One job: `where` is `queue` or `history`; `ad` as in `AdsResponse`."""

    where: Literal["queue", "history"]
    ad: dict[str, Any] | str


class ErrorOut(BaseModel):
    """Every error answer: a message a person can act on."""

    error: str = Field(..., description="What is wrong and, where it helps, what to do.")


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "Malformed input (a submit file names file:line)"},
    404: {"model": ErrorOut, "description": "Unknown job id or path"},
    409: {"model": ErrorOut, "description": "Illegal transition, e.g. releasing a running job"},
    413: {"model": ErrorOut, "description": "Request body over the limit (16 MiB)"},
    422: {"model": ErrorOut, "description": "The request does not fit the schema; names the field"},
}
"""The error answers every API route may give, for the OpenAPI document."""
