"""Assembling the job ads of one queue statement, cheaply.

For each rule of `commands.py` the builder looks at the commands it reads and
the macros those refer to (transitively). A rule none of whose inputs depends
on a per-job value (`$(Process)`, `$(Step)`, `$(Row)`, `$(ItemIndex)`,
`$(JobId)` or a queue variable) runs once; its attributes go into a base ad
that every job copies, sharing the parsed expressions. The other rules run per
job, through a cache keyed by their expanded inputs, so `output = out.$(Process)`
costs one macro expansion and one attribute per job, and `requirements` with
`$(mass)` is parsed once per distinct mass. That keeps `queue 100000` well
under a second. Neighbours: the interpreter calls `build_jobs`; `commands.py`
supplies the rules, `macros.py` the expansion.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from skyflock.classad import ClassAd
from skyflock.submit.commands import ALIASES, Attrs, Context, Rule
from skyflock.submit.errors import Where
from skyflock.submit.macros import ANY, Expander, MacroTable, closure, references

PER_JOB = frozenset({"process", "procid", "step", "row", "itemindex", "jobid"})


class _Inputs:
    """A rule's view of its commands' expanded values. A command whose value
    is empty counts as not given (`accounting_group =` undoes an earlier one)."""

    __slots__ = ("_values", "_where", "ctx")

    def __init__(self, ctx: Context, values: dict[str, str], where: dict[str, Where]) -> None:
        self.ctx = ctx
        self._values = values
        self._where = where

    def get(self, key: str) -> str | None:
        value = self._values.get(key)
        return value if value else None

    def where(self, key: str) -> Where:
        return self._where.get(key, self.ctx.queue_where)


@dataclass(frozen=True, slots=True)
class _Source:
    key: str
    raw: str
    where: Where


def resolve(table: MacroTable, key: str) -> _Source | None:
    """The definition of a command, trying its aliases in order."""
    for name in ALIASES.get(key, (key,)):
        raw = table.values.get(name)
        if raw is not None:
            return _Source(key, raw, table.where[name])
    return None


def build_jobs(
    table: MacroTable,
    expander: Expander,
    rules: Sequence[Rule],
    variables: Sequence[str],
    rows: Sequence[tuple[str, ...]],
    count: int,
    cluster_id: int,
    first_proc: int,
    ctx: Context,
) -> list[ClassAd]:
    """The ads of one queue statement: `count` jobs for each row of items."""
    fixed_live = {"Cluster": str(cluster_id), "ClusterId": str(cluster_id), "Node": ""}
    per_job_names = PER_JOB | {v.lower() for v in variables}
    static_expander = expander.with_live(
        {
            **fixed_live,
            "Process": str(first_proc),
            "ProcId": str(first_proc),
            "Step": "0",
            "Row": "0",
            "ItemIndex": "0",
            "JobId": f"{cluster_id}.{first_proc}",
        }
    )
    base: Attrs = {"ClusterId": cluster_id}
    dynamic: list[tuple[Rule, list[_Source], dict[str, Where], dict[tuple[str, ...], Attrs]]] = []
    for rule in rules:
        sources = [s for s in (resolve(table, k) for k in rule.keys) if s is not None]
        refs = closure(set().union(*(references(s.raw) for s in sources)), table)
        where = {s.key: s.where for s in sources}
        if ANY in refs or refs & per_job_names:
            dynamic.append((rule, sources, where, {}))
            continue
        values = {s.key: static_expander.expand(s.raw, s.where).strip() for s in sources}
        base.update(rule.build(_Inputs(ctx, values, where)))
    total = len(rows) * count
    if total == 0:
        return []
    template = ClassAd(base)
    jobs: list[ClassAd] = []
    proc = first_proc
    for row_index, row in enumerate(rows):
        item_live = dict(zip(variables, row, strict=True))
        for step in range(count):
            ad = template.copy()
            if dynamic:
                live = {
                    **fixed_live,
                    **item_live,
                    "Process": str(proc),
                    "ProcId": str(proc),
                    "Step": str(step),
                    "Row": str(row_index),
                    "ItemIndex": str(row_index),
                    "JobId": f"{cluster_id}.{proc}",
                }
                job_expander = expander.with_live(live)
                for rule, sources, where, cache in dynamic:
                    values = tuple(job_expander.expand(s.raw, s.where).strip() for s in sources)
                    attrs = cache.get(values)
                    if attrs is None:
                        named = {s.key: v for s, v in zip(sources, values, strict=True)}
                        attrs = rule.build(_Inputs(ctx, named, where))
                        if len(cache) < 4096:
                            cache[values] = attrs
                    for name, value in attrs.items():
                        ad[name] = value
            ad["ProcId"] = proc
            jobs.append(ad)
            proc += 1
    return jobs
