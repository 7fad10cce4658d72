"""The jobs of a submit description as HTCondor's schedd keeps them: one
cluster ad and, per job, only that job's own attributes.

`queue 100000` with `output = out.$(Process)` differs from job to job in one
attribute; building 100,000 full ClassAds to find that out again later is
most of the cost of a big submit. The builder therefore hands back, per queue
statement, a `QueueBlock`: the attributes computed once (`base`) and a small
dict per job of the attributes that depend on per-job macros. `merge_blocks`
turns the blocks of a whole description into one `SubmitCluster`: the
attributes every job shares in `cluster_ad`, the rest per job in `procs`.

`SubmitCluster.ads()` expands it into the full ads (`parse_submit` does), and
`store.jobs.submit_cluster(cluster.cluster_ad, cluster.procs)` stores it
without expanding. `ClusterId` and `ProcId` are never in `procs`: they are the
numbering (`cluster_ad` holds the first ClusterId; `numbering` says how the
jobs are numbered when a description starts several clusters).
Neighbours: `builder` makes the blocks, `interpreter` collects them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from skyflock.classad import ClassAd, Expr
from skyflock.submit.errors import SubmitWarning

Attrs = dict[str, object]
NUMBERING_ATTRIBUTES = frozenset({"clusterid", "procid"})


@dataclass(frozen=True, slots=True)
class QueueBlock:
    """The jobs of one queue statement: `base` for all of them, `procs[i]` for job i."""

    cluster_id: int
    first_proc: int
    base: Attrs
    """Attributes every job of the statement has (ClusterId first)."""
    procs: list[Attrs]
    """Per job, the attributes that depend on per-job macros (never ClusterId/ProcId)."""


@dataclass(frozen=True, slots=True)
class Numbering:
    """`count` consecutive jobs of `procs` are `cluster_id`.`first_proc`... onwards."""

    cluster_id: int
    first_proc: int
    count: int


@dataclass
class SubmitCluster:
    """The jobs of a submit description: a shared cluster ad and each job's own values.

    Job i's full ad is `cluster_ad` with `procs[i]` set over it, and its
    ClusterId/ProcId from `numbering`. Values in `procs` are plain Python
    values (str, int, float, bool) or `Expr`s.
    """

    cluster_ad: ClassAd
    procs: list[Attrs]
    numbering: tuple[Numbering, ...] = ()
    warnings: list[SubmitWarning] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.procs)

    @property
    def cluster_id(self) -> int | None:
        """The ClusterId the jobs were built with (the first one), None when none."""
        return self.numbering[0].cluster_id if self.numbering else None

    def ids(self) -> Iterator[tuple[int, int]]:
        """(ClusterId, ProcId) of each job, in order."""
        for part in self.numbering:
            for proc in range(part.first_proc, part.first_proc + part.count):
                yield part.cluster_id, proc

    def ad(self, index: int) -> ClassAd:
        """The full ad of job `index`."""
        done = 0
        for part in self.numbering:
            if index < done + part.count:
                return self._expand(index, part.cluster_id, part.first_proc + index - done)
            done += part.count
        raise IndexError(f"job {index} of {len(self.procs)}")

    def ads(self) -> list[ClassAd]:
        """The full ad of every job (what `parse_submit` returns)."""
        out: list[ClassAd] = []
        index = 0
        first = self.cluster_id
        template = self.cluster_ad
        procs = self.procs
        for part in self.numbering:
            other_cluster = part.cluster_id != first
            for proc in range(part.first_proc, part.first_proc + part.count):
                ad = template.copy()
                for name, value in procs[index].items():
                    ad[name] = value
                if other_cluster:
                    ad["ClusterId"] = part.cluster_id
                ad["ProcId"] = proc
                out.append(ad)
                index += 1
        return out

    def _expand(self, index: int, cluster_id: int, proc: int) -> ClassAd:
        ad = self.cluster_ad.copy()
        for name, value in self.procs[index].items():
            ad[name] = value
        if cluster_id != self.cluster_id:
            ad["ClusterId"] = cluster_id
        ad["ProcId"] = proc
        return ad


def merge_blocks(blocks: Sequence[QueueBlock], warnings: list[SubmitWarning]) -> SubmitCluster:
    """One `SubmitCluster` from the queue statements of a description, in order.

    With one statement (the usual case) its base is the cluster ad and its
    per-job values are the procs, untouched. With several, the cluster ad
    holds the attributes whose value is the same in every statement's base;
    each job also gets the rest of its own statement's base.
    """
    used = [b for b in blocks if b.procs]
    numbering = _numbering(used)
    if not used:
        return SubmitCluster(ClassAd(), [], (), warnings)
    if len(used) == 1:
        return SubmitCluster(ClassAd(used[0].base), used[0].procs, numbering, warnings)
    first = used[0].base
    others = [{n.lower(): v for n, v in b.base.items()} for b in used[1:]]
    common: Attrs = {}
    for name, value in first.items():
        key = name.lower()
        if key == "clusterid" or all(key in o and _same(o[key], value) for o in others):
            common[name] = value
    shared = {n.lower() for n in common}
    procs: list[Attrs] = []
    for block in used:
        extras = {
            n: v
            for n, v in block.base.items()
            if n.lower() not in shared and n.lower() not in NUMBERING_ATTRIBUTES
        }
        if extras:
            procs.extend({**extras, **own} for own in block.procs)
        else:
            procs.extend(block.procs)
    return SubmitCluster(ClassAd(common), procs, numbering, warnings)


def _numbering(blocks: Sequence[QueueBlock]) -> tuple[Numbering, ...]:
    parts: list[Numbering] = []
    for b in blocks:
        last = parts[-1] if parts else None
        if (
            last is not None
            and last.cluster_id == b.cluster_id
            and last.first_proc + last.count == b.first_proc
        ):
            parts[-1] = Numbering(last.cluster_id, last.first_proc, last.count + len(b.procs))
        else:
            parts.append(Numbering(b.cluster_id, b.first_proc, len(b.procs)))
    return tuple(parts)


def _same(a: object, b: object) -> bool:
    """Do two attribute values denote the same expression?"""
    if a is b:
        return True
    if isinstance(a, Expr) or isinstance(b, Expr):
        return isinstance(a, Expr) and isinstance(b, Expr) and str(a) == str(b)
    return type(a) is type(b) and a == b
