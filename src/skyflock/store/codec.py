"""The store's only contact with the ClassAd language.

Ads are kept as text in the "old" form (one `Name = expr` per line: the
form this ClassAd library parses and prints fastest). Like HTCondor's
schedd, a submit stores one *cluster ad* with the attributes all its procs
share and, per job, a *proc ad* with only that job's own attributes (the
arguments, the output file...); `store.submit_codec` writes those at submit
time. Each job's hot attributes (Owner, AcctGroup, the fair-share submitter,
JobPrio, QDate, WorkflowId, StepName) are read by `hot_values` as `NewJob`
fields for the store's indexed columns.

When a job is read back, `record_ad` parses the cluster ad (cached) and the
proc ad, and `overlay` writes the store's columns into the result as HTCondor
attributes, so that `JobStatus`, `ClusterId`, `HoldReason`... always say what
the queue says. `Constraint` evaluates a ClassAd constraint over records, without
parsing the full ad when the constraint reads only hot attributes.

Neighbours: `store.submit_codec` (the submit side), `store.records` (the records), `skyflock.classad` (the language),
`core.model.submitter_of` (the fair-share unit).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Final, Protocol

from skyflock.classad import ClassAd, Expr, parse
from skyflock.core.model import submitter_of
from skyflock.store.records import JobStatus, NewJob

if TYPE_CHECKING:  # pragma: no cover - typing only
    from skyflock.classad import Value

AD_FORMAT: Final = "old"
"""How ads are stored: one `Name = expr` per line."""

CLUSTER_CACHE_SIZE: Final = 512
"""Parsed cluster ads kept in memory (each is shared by all the jobs of a submit)."""

MANAGED_ATTRIBUTES: Final = frozenset(
    name.lower()
    for name in (
        "ClusterId",
        "ProcId",
        "JobStatus",
        "EnteredCurrentStatus",
        "NumJobStarts",
        "NumJobCompletions",
        "HoldReason",
        "HoldReasonCode",
        "HoldReasonSubCode",
        "ExitCode",
        "ExitBySignal",
        "ExitSignal",
        "JobStartDate",
        "JobCurrentStartDate",
        "CompletionDate",
        "RemoteWallClockTime",
        "RemoteHost",
        "LastRemoteHost",
        "RemoteClusterName",
        "LastRemoteClusterName",
        "Owner",
    )
)
"""Attributes the store owns: a `qedit` may not set them."""

HOT_ATTRIBUTES: Final = MANAGED_ATTRIBUTES | frozenset(
    name.lower() for name in ("QDate", "JobPrio", "AcctGroup", "WorkflowId", "StepName")
)
"""Attributes a record's columns give without parsing its ad."""


class _RecordLike(Protocol):
    @property
    def cluster_id(self) -> int: ...
    @property
    def proc_id(self) -> int: ...
    @property
    def status(self) -> int: ...
    @property
    def owner(self) -> str: ...
    @property
    def acct_group(self) -> str | None: ...
    @property
    def job_prio(self) -> int: ...
    @property
    def q_date(self) -> float: ...
    @property
    def workflow_id(self) -> str | None: ...
    @property
    def step_name(self) -> str | None: ...
    @property
    def cluster_name(self) -> str | None: ...
    @property
    def slot_id(self) -> str | None: ...
    @property
    def hold_reason(self) -> str | None: ...
    @property
    def hold_reason_code(self) -> int | None: ...
    @property
    def hold_reason_subcode(self) -> int | None: ...
    @property
    def num_job_starts(self) -> int: ...
    @property
    def num_job_completions(self) -> int: ...
    @property
    def exit_code(self) -> int | None: ...
    @property
    def exit_signal(self) -> int | None: ...
    @property
    def entered_status_at(self) -> float: ...
    @property
    def job_start_date(self) -> float | None: ...
    @property
    def job_current_start_date(self) -> float | None: ...
    @property
    def wall_clock(self) -> float: ...
    @property
    def completion_date(self) -> float | None: ...
    @property
    def ad_text(self) -> str: ...
    @property
    def cluster_ad_text(self) -> str: ...


LINE_BREAKS: Final = ("\x85", "\u2028", "\u2029")
"""Characters `str.splitlines` breaks on that a string literal cannot escape
(the old form is read line by line); ads holding them are stored in the new form."""


def encode(ad: ClassAd) -> str:
    text = ad.format(AD_FORMAT)
    if any(c in text for c in LINE_BREAKS):
        return ad.format("new")
    return text


def decode(text: str) -> ClassAd:
    return ClassAd.parse(text) if text.strip() else ClassAd()


@lru_cache(maxsize=CLUSTER_CACHE_SIZE)
def _cluster_ad(text: str) -> ClassAd:
    return decode(text)


def _string(ad: ClassAd, name: str) -> str | None:
    value = ad.eval(name)
    return value if isinstance(value, str) and value else None


def hot_values(ad: ClassAd, ad_text: str) -> NewJob:
    """`ad`'s hot attributes, with `ad_text` as the text to store.

    Raises ValueError when the ad has no `Owner` (every job belongs to someone).
    """
    owner = _string(ad, "Owner")
    if owner is None:
        raise ValueError("job ad has no Owner attribute (a non-empty string)")
    prio = ad.eval("JobPrio")
    qdate = ad.eval("QDate")
    return NewJob(
        ad_text=ad_text,
        owner=owner,
        submitter=submitter_of(ad),
        acct_group=_string(ad, "AcctGroup"),
        job_prio=prio if isinstance(prio, int) and not isinstance(prio, bool) else 0,
        q_date=float(qdate)
        if isinstance(qdate, int | float) and not isinstance(qdate, bool)
        else None,
        workflow_id=_string(ad, "WorkflowId"),
        step_name=_string(ad, "StepName"),
        held=ad.eval("JobStatus") == JobStatus.HELD,
    )


def _set_or_delete(ad: ClassAd, name: str, value: Value | None) -> None:
    if value is None:
        if name in ad:
            del ad[name]
    else:
        ad[name] = value


def overlay(ad: ClassAd, record: _RecordLike) -> ClassAd:
    """Write the record's columns into `ad` as the HTCondor attributes; returns `ad`."""
    status = record.status
    running = status == JobStatus.RUNNING
    held = status == JobStatus.HELD
    ad["ClusterId"] = record.cluster_id
    ad["ProcId"] = record.proc_id
    ad["JobStatus"] = status
    ad["Owner"] = record.owner
    ad["QDate"] = _number(record.q_date)
    ad["JobPrio"] = record.job_prio
    ad["EnteredCurrentStatus"] = _number(record.entered_status_at)
    ad["NumJobStarts"] = record.num_job_starts
    ad["NumJobCompletions"] = record.num_job_completions
    ad["RemoteWallClockTime"] = float(record.wall_clock)
    _set_or_delete(ad, "AcctGroup", record.acct_group)
    _set_or_delete(ad, "WorkflowId", record.workflow_id)
    _set_or_delete(ad, "StepName", record.step_name)
    _set_or_delete(ad, "HoldReason", record.hold_reason if held else None)
    _set_or_delete(ad, "HoldReasonCode", record.hold_reason_code if held else None)
    _set_or_delete(ad, "HoldReasonSubCode", record.hold_reason_subcode if held else None)
    _overlay_exit(ad, record.exit_code, record.exit_signal)
    _set_or_delete(ad, "JobStartDate", _number(record.job_start_date))
    _set_or_delete(
        ad, "JobCurrentStartDate", _number(record.job_current_start_date) if running else None
    )
    _set_or_delete(ad, "CompletionDate", _number(record.completion_date))
    _set_or_delete(ad, "RemoteHost", record.slot_id if running else None)
    _set_or_delete(ad, "RemoteClusterName", record.cluster_name if running else None)
    _set_or_delete(ad, "LastRemoteHost", None if running else record.slot_id)
    _set_or_delete(ad, "LastRemoteClusterName", None if running else record.cluster_name)
    return ad


def _overlay_exit(ad: ClassAd, code: int | None, signal: int | None) -> None:
    """How the last run ended, as condor_history shows it: `ExitBySignal` once a
    run has ended, `ExitSignal` for a signal death, `ExitCode` for an exit."""
    ended = code is not None or signal is not None
    _set_or_delete(ad, "ExitBySignal", (signal is not None) if ended else None)
    _set_or_delete(ad, "ExitSignal", signal)
    _set_or_delete(ad, "ExitCode", None if signal is not None else code)


def _number(value: float | None) -> int | float | None:
    """Times are stored as floats; whole seconds read back as ints, like HTCondor's."""
    if value is None:
        return None
    return int(value) if float(value).is_integer() else float(value)


def record_ad(record: _RecordLike) -> ClassAd:
    """The full ad of a record: cluster ad, proc ad over it, the columns over both."""
    ad = _cluster_ad(record.cluster_ad_text).copy()
    if record.ad_text:
        ad.update(decode(record.ad_text))
    return overlay(ad, record)


def hot_ad(record: _RecordLike) -> ClassAd:
    """An ad of only the attributes the columns give (see `HOT_ATTRIBUTES`)."""
    return overlay(ClassAd(), record)


def edited_proc_text(cluster_text: str, proc_text: str, changes: Mapping[str, str]) -> NewJob:
    """Apply a `qedit` to one job: each value is ClassAd expression text.

    The new values go into the proc ad (they override the cluster ad).
    Returns the new proc text with the hot attributes re-read. Raises
    ValueError naming an attribute the store manages, and the language's
    `ClassAdSyntaxError` when a value does not parse.
    """
    own = decode(proc_text)
    for name, expr_text in changes.items():
        if name.lower() in MANAGED_ATTRIBUTES:
            raise ValueError(f"{name} is set by skyflock and cannot be edited")
        own[name] = parse(expr_text)
    full = _cluster_ad(cluster_text).copy()
    full.update(own)
    return hot_values(full, encode(own))


class Constraint:
    """A compiled ClassAd constraint over job records (true selects the job).

    Raises the language's `ClassAdSyntaxError` on bad syntax when built.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        expr: Expr = parse(text)
        self._fn = expr.compile()
        reads = expr.internal_refs() | expr.external_refs()
        self.needs_full_ad = not reads <= HOT_ATTRIBUTES

    def matches_ad(self, ad: ClassAd) -> bool:
        return self._fn(ad, None) is True

    def matches(self, record: _RecordLike) -> bool:
        """Evaluate against the record; parses its ad only when needed."""
        ad = record_ad(record) if self.needs_full_ad else hot_ad(record)
        return self.matches_ad(ad)
