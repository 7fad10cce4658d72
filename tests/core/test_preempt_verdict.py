"""The preemption search's per-submitter shortcut: which `preemption_requirements`
may be decided from the submitter-level context names alone, and what
flattening over them decides."""

from __future__ import annotations

import pytest

from skyflock.classad import ClassAd, flatten, parse
from skyflock.classad.nodes import Literal
from skyflock.core.config import NegotiatorConfig
from skyflock.core.preempt import _decidable_per_submitter

DECIDABLE = [
    (NegotiatorConfig().preemption_requirements, True),
    ("RemoteUserPrio > SubmitterUserPrio", True),
    ("MY.RemoteUserPrio > TARGET.JobPrio", True),
    ("MY.TotalJobRunTime > 600", False),  # per claim: would flatten to UNDEFINED
    ("MY.Memory > 10 && RemoteUserPrio > 1", False),
    ("TotalJobRunTime > 600 && Memory > 10", True),  # unscoped names stay references
]


@pytest.mark.parametrize(("text", "expected"), DECIDABLE)
def test_which_expressions_are_decided_per_submitter(text: str, expected: bool) -> None:
    assert _decidable_per_submitter(parse(text)) is expected


SUBMITTERS = {
    "RemoteUser": "a",
    "RemoteOwner": "a",
    "RemoteGroup": "<none>",
    "RemoteUserPrio": 2000.0,
    "RemoteUserResourcesInUse": 100.0,
    "SubmitterUser": "b",
    "SubmitterGroup": "<none>",
    "SubmitterUserPrio": 500.0,
}


@pytest.mark.parametrize(
    ("fair_share", "decided"),
    [
        (200.0, False),  # within its fair share: no claim of `a` qualifies
        (50.0, None),  # above it: TotalJobRunTime decides claim by claim
    ],
)
def test_default_requirements_flatten_per_submitter(fair_share: float, decided: object) -> None:
    expr = parse(NegotiatorConfig().preemption_requirements)
    flat = flatten(expr, ClassAd({**SUBMITTERS, "RemoteUserFairShare": fair_share}))
    if decided is None:
        assert type(flat) is not Literal
        assert "totaljobruntime" in str(flat).lower()
    else:
        assert type(flat) is Literal and flat.value is decided
