"""Assembling the jobs of one queue statement, cheaply.

For each rule of `commands.py` the builder looks at the commands it reads and
the macros those refer to (transitively). A rule none of whose inputs depends
on a per-job value (`$(Process)`, `$(Step)`, `$(Row)`, `$(ItemIndex)`,
`$(JobId)` or a queue variable) runs once; its attributes go into the block's
`base`, shared by every job. The other rules run per job, through a cache
keyed by their expanded inputs, and their attributes go into the job's own
small dict: `output = out.$(Process)` costs one string format and one dict
entry per job (the macro text is turned into a format template once), and
`requirements` with `$(mass)` is parsed once per distinct mass. No ClassAd is
made per job here; `cluster.SubmitCluster.ads()` makes them when asked.
Neighbours: the interpreter calls `build_block`; `commands.py` supplies the
rules, `macros.py` the expansion, `cluster.py` the result's shape.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Sequence
from dataclasses import dataclass

from skyflock.submit.cluster import QueueBlock
from skyflock.submit.commands import ALIASES, Attrs, Context, Rule
from skyflock.submit.errors import Where
from skyflock.submit.macros import ANY, Expander, MacroTable, closure, references, uses_function

CACHE_LIMIT = 1024
NO_HITS_LIMIT = 64
"""A rule whose first 64 distinct inputs never repeated stops caching."""
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


_SENTINEL = re.compile("\x00([^\x00]*)\x00")


@dataclass(frozen=True, slots=True)
class _Template:
    """An expanded command value with holes for per-job names: rendering it is
    a join, not a macro expansion."""

    pattern: str
    """A `str.format_map` pattern whose fields are live names (lower case)."""

    def render(self, live: dict[str, str]) -> str:
        return self.pattern.format_map(live).strip()


def _template(
    source: _Source, table: MacroTable, expander: Expander, per_job: frozenset[str]
) -> _Template | None:
    """The source as a template when its per-job names reach it only through
    plain `$(name)` references (no `$INT()`, `$F()`... applied to them)."""
    names = closure(references(source.raw), table)
    if ANY in names:
        return None
    texts = [source.raw, *(table.values[n] for n in names if n in table.values)]
    if any(uses_function(t) for t in texts):
        return None
    holes = expander.with_live({name: f"\x00{name}\x00" for name in per_job})
    parts = _SENTINEL.split(holes.expand(source.raw, source.where))
    pattern = "".join(
        p.replace("{", "{{").replace("}", "}}") if i % 2 == 0 else "{" + p + "}"
        for i, p in enumerate(parts)
    )
    return _Template(pattern)


def build_block(
    table: MacroTable,
    expander: Expander,
    rules: Sequence[Rule],
    variables: Sequence[str],
    rows: Sequence[tuple[str, ...]],
    count: int,
    cluster_id: int,
    first_proc: int,
    ctx: Context,
) -> QueueBlock:
    """The jobs of one queue statement, `count` for each row of items: the
    attributes computed once and, per job, those that depend on per-job macros.

    The cyclic garbage collector is paused meanwhile: the per-job dicts hold
    no cycles, and collecting while 100,000 of them pile up costs a third of
    the time."""
    paused = gc.isenabled()
    gc.disable()
    try:
        return _build_block(
            table, expander, rules, variables, rows, count, cluster_id, first_proc, ctx
        )
    finally:
        if paused:
            gc.enable()


def _build_block(
    table: MacroTable,
    expander: Expander,
    rules: Sequence[Rule],
    variables: Sequence[str],
    rows: Sequence[tuple[str, ...]],
    count: int,
    cluster_id: int,
    first_proc: int,
    ctx: Context,
) -> QueueBlock:
    fixed_live = {"cluster": str(cluster_id), "clusterid": str(cluster_id), "node": ""}
    per_job = PER_JOB | {v.lower() for v in variables}
    static_expander = expander.with_live(
        {
            **fixed_live,
            "process": str(first_proc),
            "procid": str(first_proc),
            "step": "0",
            "row": "0",
            "itemindex": "0",
            "jobid": f"{cluster_id}.{first_proc}",
        }
    )
    base: Attrs = {"ClusterId": cluster_id}
    dynamic: list[_Dynamic] = []
    for rule in rules:
        sources = [s for s in (resolve(table, k) for k in rule.keys) if s is not None]
        refs = closure(set().union(*(references(s.raw) for s in sources)), table)
        where = {s.key: s.where for s in sources}
        if ANY in refs or refs & per_job:
            fixed = expander.with_live(fixed_live)
            templates = tuple(_template(s, table, fixed, per_job) for s in sources)
            dynamic.append(_Dynamic(rule, tuple(sources), where, templates, {}))
            continue
        values = {s.key: static_expander.expand(s.raw, s.where).strip() for s in sources}
        base.update(rule.build(_Inputs(ctx, values, where)))
    total = len(rows) * count
    if total == 0:
        return QueueBlock(cluster_id, first_proc, base, [])
    if not dynamic:
        # Nothing differs from job to job.
        return QueueBlock(cluster_id, first_proc, base, [{} for _ in range(total)])
    procs: list[Attrs] = []
    append = procs.append
    proc = first_proc
    lowered = [v.lower() for v in variables]
    live: dict[str, str] = dict(fixed_live)
    for row_index, row in enumerate(rows):
        live.update(zip(lowered, row, strict=True))
        live["row"] = live["itemindex"] = str(row_index)
        for step in range(count):
            proc_text = str(proc)
            live["process"] = live["procid"] = proc_text
            live["step"] = str(step)
            live["jobid"] = f"{cluster_id}.{proc_text}"
            own: Attrs = {}
            job_expander: Expander | None = None
            for dyn in dynamic:
                if dyn.single is not None:
                    # one command, a plain template: the common case, kept lean
                    value = dyn.single.format_map(live).strip()
                    inputs: tuple[str, ...] = (value,)
                    named = {dyn.sources[0].key: value}
                else:
                    rendered: list[str] = []
                    for src, tpl in zip(dyn.sources, dyn.templates, strict=True):
                        if tpl is not None:
                            rendered.append(tpl.pattern.format_map(live).strip())
                        else:
                            if job_expander is None:
                                job_expander = expander.with_live(dict(live))
                            rendered.append(job_expander.expand(src.raw, src.where).strip())
                    inputs = tuple(rendered)
                    named = {s.key: v for s, v in zip(dyn.sources, inputs, strict=True)}
                if dyn.caching:
                    attrs = dyn.cache.get(inputs)
                    if attrs is None:
                        attrs = dyn.rule.build(_Inputs(ctx, named, dyn.where))
                        dyn.remember(inputs, attrs)
                    else:
                        dyn.hits += 1
                else:
                    attrs = dyn.rule.build(_Inputs(ctx, named, dyn.where))
                own.update(attrs)
            append(own)
            proc += 1
    return QueueBlock(cluster_id, first_proc, base, procs)


@dataclass(slots=True)
class _Dynamic:
    """A rule whose inputs change from job to job."""

    rule: Rule
    sources: tuple[_Source, ...]
    where: dict[str, Where]
    templates: tuple[_Template | None, ...]
    cache: dict[tuple[str, ...], Attrs]
    caching: bool = True
    hits: int = 0
    single: str | None = None
    """The format pattern when the rule reads one command through a template."""

    def __post_init__(self) -> None:
        if len(self.templates) == 1 and self.templates[0] is not None:
            self.single = self.templates[0].pattern

    def remember(self, inputs: tuple[str, ...], attrs: Attrs) -> None:
        """Cache a rule's attributes, unless its inputs rarely repeat: values
        that never do (`out.$(Process)`) are not worth keeping."""
        self.cache[inputs] = attrs
        size = len(self.cache)
        if size >= CACHE_LIMIT or (size >= NO_HITS_LIMIT and self.hits == 0):
            self.caching = False
            self.cache.clear()
