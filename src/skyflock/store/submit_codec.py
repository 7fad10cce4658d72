"""Serialising a submit for the store: the cluster ad once, each proc's own values fast.

A submit is stored as one cluster ad (the attributes its jobs share) and, per
job, a proc ad with only that job's attributes, both as old-form text. The
shape the submit language hands over (`skyflock.submit.SubmitCluster`: a
cluster ad plus a dict of values per job) goes through `encode_submit`, whose
per-job work is one string per attribute: names are checked once per set of
names, plain values (str, int, float, bool, and literal expressions) are
formatted by the store itself, other expressions are printed once however
many jobs share them. When no job overrides an attribute the hot columns
depend on (Owner, AccountingGroup, JobPrio...), the hot values are read once
for the whole cluster. `encode_cluster` and `encode_ads` (full ads: the
attributes whose expression is the same object in every ad are shared) give
per-job `NewJob`s for `JobQueue.submit_encoded`.

Neighbours: `store.codec` (the reading side and `hot_values`),
`store.submitting` (the insert), `skyflock.classad` (the language).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final

from skyflock.classad import ClassAd, Expr, parse
from skyflock.store.codec import LINE_BREAKS, encode, hot_values
from skyflock.store.records import NewJob

# -- formatting plain values --------------------------------------------

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
    if any(c in text for c in LINE_BREAKS):  # the old form cannot hold them
        return ClassAd(values).format("new")
    return text


# -- submit -----------------------------------------------------------------------

_HOT_SOURCES: Final = frozenset(
    n.lower()
    for n in (
        "Owner",
        "AccountingGroup",
        "AcctGroup",
        "JobPrio",
        "QDate",
        "WorkflowId",
        "StepName",
        "JobStatus",
    )
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
        job.held,
    )


def _checked_new_job(ad: ClassAd, text: str, index: int) -> NewJob:
    try:
        return hot_values(ad, text)
    except ValueError as exc:
        raise ValueError(f"job ad {index}: {exc}") from None


# -- the cluster shape, fast --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EncodedSubmit:
    """A submit ready to insert: the cluster ad text, each proc ad text, and the
    hot column values (one `NewJob` for all procs, or one per proc)."""

    cluster_text: str
    texts: list[str]
    hot: NewJob | list[NewJob]
    """Shared: its `ad_text` is empty. Per proc: each one's `ad_text` is its text."""


class _ProcFormatter:
    """Formats proc values as old-form text; one instance per submit (it memoises
    the checks of each distinct set of names and the text of each shared expression)."""

    __slots__ = ("checked", "exprs", "plans", "seen_keys")

    def __init__(self) -> None:
        self.plans: dict[tuple[str, ...], tuple[str, ...] | None] = {}
        self.exprs: dict[int, str] = {}
        self.checked = False
        self.seen_keys: set[str] = set()

    def __call__(self, values: Mapping[str, Any]) -> str:
        if not values:
            return ""
        keys = tuple(values)
        if keys in self.plans:
            plan = self.plans[keys]
        else:
            plan = self.plans[keys] = self._plan(keys)
            self.seen_keys.update(k.lower() for k in keys)
        if plan is None:
            return format_attrs(values)
        parts: list[str] = []
        suspect = False
        for prefix, value in zip(plan, values.values(), strict=True):
            t = type(value)
            if t is _LITERAL:
                value = value.value
                t = type(value)
            if t is str:
                if '"' not in value and "\\" not in value and value.isprintable():
                    parts.append(prefix + '"' + value + '"')
                else:
                    suspect = True
                    parts.append(prefix + '"' + value.translate(_ESCAPES) + '"')
            elif t is int:
                parts.append(prefix + str(value))
            else:
                literal = _plain_literal(value)
                if literal is None:
                    if not isinstance(value, Expr):
                        return format_attrs(values)
                    literal = self.exprs.get(id(value))
                    if literal is None:
                        literal = self.exprs[id(value)] = str(value)
                    suspect = True
                parts.append(prefix + literal)
        text = "\n".join(parts)
        if suspect and any(c in text for c in LINE_BREAKS):
            return format_attrs(values)
        return text

    @staticmethod
    def _plan(keys: tuple[str, ...]) -> tuple[str, ...] | None:
        """`Name = ` per key, or None when a name must be quoted (the slow path)."""
        lowered = [k.lower() for k in keys]
        if len(set(lowered)) != len(lowered):
            return None
        if not all(_NAME.match(k) and k.lower() not in _KEYWORDS for k in keys):
            return None
        return tuple(f"{k} = " for k in keys)


def encode_submit(cluster_ad: ClassAd, procs: Sequence[Mapping[str, Any]]) -> EncodedSubmit:
    """A cluster ad and per-proc values (proc i's ad is `cluster_ad` with
    ``procs[i]`` set over it) as texts and hot values.

    Raises ValueError naming the first proc whose ad has no Owner.
    """
    fmt = _ProcFormatter()
    # The exprs memo keys on id(): the procs keep every expression alive meanwhile.
    texts = [fmt(values) for values in procs]
    cluster_text = encode(cluster_ad)
    reads = _hot_reads(cluster_ad)
    if reads.isdisjoint(fmt.seen_keys):
        return EncodedSubmit(cluster_text, texts, _checked_new_job(cluster_ad, "", 0))
    hot: list[NewJob] = []
    shared: NewJob | None = None
    for index, (values, text) in enumerate(zip(procs, texts, strict=True)):
        if reads.isdisjoint(n.lower() for n in values):
            if shared is None:
                shared = _checked_new_job(cluster_ad, "", index)
            hot.append(_with_text(shared, text))
        else:
            full = cluster_ad.copy()
            full.update(values)
            hot.append(_checked_new_job(full, text, index))
    return EncodedSubmit(cluster_text, texts, hot)
