"""The store's only contact with the ClassAd language.

Ads are kept as text in the "old" form (one `Name = expr` per line: the
form this ClassAd library parses and prints fastest). Like HTCondor's
schedd, a submit stores one *cluster ad* with the attributes all its procs
share and, per job, a *proc ad* with only that job's own attributes (the
arguments, the output file...): `encode_cluster` turns a cluster ad and the
procs' values into those texts, formatting plain values itself so that a
`queue 100000` costs microseconds per job; `encode_ads` does the same for a
list of full ads, sharing the attributes whose expressions are the same
objects in every ad. Each job's hot attributes (Owner, AcctGroup, the
fair-share submitter, JobPrio, QDate, WorkflowId, StepName) are read as
`NewJob` fields for the store's indexed columns.

When a job is read back, `record_ad` parses the cluster ad (cached) and the
proc ad, and `overlay` writes the store's columns into the result as HTCondor
attributes, so that `JobStatus`, `ClusterId`, `HoldReason`... always say what
the queue says. `Constraint` evaluates a ClassAd constraint over records, without
parsing the full ad when the constraint reads only hot attributes.

Neighbours: `store.records` (the records), `skyflock.classad` (the language),
`core.model.submitter_of` (the fair-share unit).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Final, Protocol

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
        "HoldReason",
        "HoldReasonCode",
        "HoldReasonSubCode",
        "ExitCode",
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
    def exit_code(self) -> int | None: ...
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


_LINE_BREAKS: Final = ("\x85", "\u2028", "\u2029")
"""Characters `str.splitlines` breaks on that a string literal cannot escape
(the old form is read line by line); ads holding them are stored in the new form."""


def encode(ad: ClassAd) -> str:
    text = ad.format(AD_FORMAT)
    if any(c in text for c in _LINE_BREAKS):
        return ad.format("new")
    return text


def decode(text: str) -> ClassAd:
    return ClassAd.parse(text) if text.strip() else ClassAd()


@lru_cache(maxsize=CLUSTER_CACHE_SIZE)
def _cluster_ad(text: str) -> ClassAd:
    return decode(text)


# -- fast formatting of plain values --------------------------------------------

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_KEYWORDS: Final = frozenset({"true", "false", "undefined", "error", "is", "isnt"})
_ESCAPES: Final = {
    **{c: f"\\{c:03o}" for c in (*range(32), 127)},
    ord("\\"): "\\\\",
    ord('"'): '\\"',
    ord("\n"): "\\n",
    ord("\t"): "\\t",
    ord("\r"): "\\r",
}


_BARE_NAMES: dict[str, bool] = {}
"""Attribute name -> may it be written unquoted (a memo: names repeat per proc)."""


def _plain_literal(value: object) -> str | None:
    """ClassAd source of a plain value (str, int, finite float, bool), else None."""
    t = type(value)
    if t is str:
        return '"' + value.translate(_ESCAPES) + '"'  # type: ignore[attr-defined]
    if t is int:
        return str(value)
    if t is bool:
        return "true" if value else "false"
    if t is float and math.isfinite(value):  # type: ignore[arg-type]
        text = repr(value)
        return text if ("." in text or "e" in text) else text + ".0"
    return None


def _literal_type() -> type | None:
    """The node type the parser gives literals (and only literals), or None.

    A literal `Expr` is then written from its value by `_plain_literal`, which
    is several times faster than printing the expression.
    """
    literal = type(parse('""'))
    others = ("a", "1 + 2", "f(1)", "[a = 1]", "{1}", "time()")
    if all(type(parse(text)) is literal for text in ('"x"', "1", "2.5", "true")) and not any(
        type(parse(text)) is literal for text in others
    ):
        return literal
    return None


_LITERAL: Final = _literal_type()


def format_attrs(values: Mapping[str, Any]) -> str:
    """Attributes (plain values or `Expr`s) as an old-form ad text."""
    lines: list[str] = []
    slow: dict[str, Any] = {}
    for name, value in values.items():
        literal = _plain_literal(value)
        if literal is None and isinstance(value, Expr):
            if type(value) is _LITERAL:
                literal = _plain_literal(value.eval())
            if literal is None:
                literal = str(value)
        bare = _BARE_NAMES.get(name)
        if bare is None:
            bare = _BARE_NAMES[name] = bool(_NAME.match(name)) and name.lower() not in _KEYWORDS
        if literal is None or not bare:
            slow[name] = value
        else:
            lines.append(f"{name} = {literal}")
    if slow:
        lines.append(encode(ClassAd(slow)))
    text = "\n".join(lines)
    if any(c in text for c in _LINE_BREAKS):  # the old form cannot hold them
        return ClassAd(values).format("new")
    return text


# -- submit -----------------------------------------------------------------------

_HOT_SOURCES: Final = frozenset(
    n.lower()
    for n in ("Owner", "AccountingGroup", "AcctGroup", "JobPrio", "QDate", "WorkflowId", "StepName")
)
"""Attributes `hot_values` reads (directly; see `_hot_reads`)."""


def _hot_reads(ad: ClassAd) -> set[str]:
    """Every attribute the hot values of `ad` depend on (following expressions)."""
    reads = set(_HOT_SOURCES)
    for name in _HOT_SOURCES:
        expr = ad.lookup(name)
        if expr is not None:
            reads |= expr.internal_refs(ad)
    return reads


def encode_cluster(
    cluster_ad: ClassAd, procs: Sequence[Mapping[str, Any]]
) -> tuple[str, list[NewJob]]:
    """The cluster ad's text and one `NewJob` (proc ad text, hot values) per proc.

    Each proc's ad is the cluster ad with the proc's attributes set over it.
    Raises ValueError naming the proc whose ad has no Owner.
    """
    cluster_text = encode(cluster_ad)
    reads = _hot_reads(cluster_ad)
    shared: NewJob | None = None
    out: list[NewJob] = []
    for index, values in enumerate(procs):
        text = format_attrs(values)
        if reads.isdisjoint(n.lower() for n in values):
            if shared is None:
                shared = _checked_new_job(cluster_ad, "", index)
            out.append(_with_text(shared, text))
        else:
            full = cluster_ad.copy()
            full.update(values)
            out.append(replace(_checked_new_job(full, "", index), ad_text=text))
    return cluster_text, out


def encode_ads(ads: Sequence[ClassAd]) -> tuple[str, list[NewJob]]:
    """Like `encode_cluster` for full ads: the attributes whose expression is the
    same object in every ad go to the cluster ad, the rest to each proc ad.

    One pass when the ads have the same attribute names (a submit's do): the
    first ad is the candidate cluster ad and each ad keeps, as its own, the
    attributes whose expression is not the candidate's object (they override
    it); the candidates no ad shares are then dropped from the cluster ad.
    """
    if not ads:
        return "", []
    candidate = dict(ads[0].items())
    get = candidate.get
    size = len(candidate)
    owns: list[list[tuple[str, Expr]]] = []
    for ad in ads:
        items = ad.items()
        own = [(n, e) for n, e in items if get(n) is not e]
        if len(items) != size or any(n not in candidate for n, _ in own):
            return _encode_ads_slow(ads)
        owns.append(own)
    # Names no other ad shares with the first go to every proc ad, the first's too.
    never_shared = (
        set.intersection(*({n for n, _ in own} for own in owns[1:])) if len(owns) > 1 else set()
    )
    owns[0] = [(n, e) for n, e in candidate.items() if n in never_shared]
    cluster = {n: e for n, e in candidate.items() if n not in never_shared}
    reads = _hot_reads(ads[0])
    varying = {n.lower() for own in owns for n, _ in own}
    shared = None if varying & reads else _checked_new_job(ads[0], "", 0)
    out = []
    for index, (ad, own) in enumerate(zip(ads, owns, strict=True)):
        text = format_attrs(dict(own))
        if shared is not None:
            out.append(_with_text(shared, text))
        else:
            out.append(_checked_new_job(ad, text, index))
    return format_attrs(cluster), out


def _encode_ads_slow(ads: Sequence[ClassAd]) -> tuple[str, list[NewJob]]:
    """`encode_ads` for ads whose attribute names differ."""
    common = dict(ads[0].items())
    for ad in ads[1:]:
        if not common:
            break
        for name, expr in list(common.items()):
            if ad.lookup(name) is not expr:
                del common[name]
    keys = {n.lower() for n in common}
    out = []
    for index, ad in enumerate(ads):
        own = {n: e for n, e in ad.items() if n.lower() not in keys}
        out.append(_checked_new_job(ad, format_attrs(own), index))
    return format_attrs(common), out


def _with_text(job: NewJob, text: str) -> NewJob:
    """`job` with another proc ad text (faster than `dataclasses.replace`)."""
    return NewJob(
        text,
        job.owner,
        job.submitter,
        job.acct_group,
        job.job_prio,
        job.q_date,
        job.workflow_id,
        job.step_name,
    )


def _checked_new_job(ad: ClassAd, text: str, index: int) -> NewJob:
    try:
        return hot_values(ad, text)
    except ValueError as exc:
        raise ValueError(f"job ad {index}: {exc}") from None


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
    ad["RemoteWallClockTime"] = float(record.wall_clock)
    _set_or_delete(ad, "AcctGroup", record.acct_group)
    _set_or_delete(ad, "WorkflowId", record.workflow_id)
    _set_or_delete(ad, "StepName", record.step_name)
    _set_or_delete(ad, "HoldReason", record.hold_reason if held else None)
    _set_or_delete(ad, "HoldReasonCode", record.hold_reason_code if held else None)
    _set_or_delete(ad, "HoldReasonSubCode", record.hold_reason_subcode if held else None)
    _set_or_delete(ad, "ExitCode", record.exit_code)
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
