"""The slot side of a cycle: slot groups split into buckets of identical remaining resources.

Within one slot group (`core.autocluster.SlotGroup`) slots differ only in what
they have left, so the pool keeps, per group, a dictionary from remaining
resources to the slots that have exactly that much, plus the keys indexed in
best-fit order: fewest GPUs, then fewest CPUs, then least memory and disk.
Finding the best-fitting slot of a group for a request walks the GPU and CPU
values upwards and bisects memory; carving k jobs out of a slot moves it to another bucket.
Identical slots are never looked at one by one.

Neighbours: `core.negotiate` drives it, `core.matchtable` says which groups a
job group may use, `core.preempt` takes resources of claimed slots, and
`core.explain` reads what is left at the end of the cycle. Pure.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING

from skyflock.core import carve
from skyflock.core.carve import Resources

if TYPE_CHECKING:  # pragma: no cover - typing only
    from skyflock.core.autocluster import SlotGroup

FitKey = tuple[int, int, int, int]
"""(gpus, cpus, memory, disk): sorting by it puts the tightest fit first."""


def fit_key(res: Resources) -> FitKey:
    return (res[3], res[0], res[1], res[2])


def from_fit_key(key: FitKey) -> Resources:
    return (key[1], key[2], key[3], key[0])


class _Index:
    """The bucket keys of one slot group, nested GPUs -> CPUs -> sorted (memory, disk).

    Best fit walks GPU values and CPU values upwards (a few dozen at most) and
    bisects memory within each, so a request never scans the many buckets that
    have CPUs to spare but too little memory.
    """

    __slots__ = ("cpus", "gpus", "md")

    def __init__(self) -> None:
        self.gpus: list[int] = []
        self.cpus: dict[int, list[int]] = {}
        self.md: dict[tuple[int, int], list[tuple[int, int]]] = {}

    def add(self, res: Resources) -> None:
        c, m, d, g = res
        cpus = self.cpus.get(g)
        if cpus is None:
            bisect.insort(self.gpus, g)
            cpus = self.cpus[g] = []
        md = self.md.get((g, c))
        if md is None:
            bisect.insort(cpus, c)
            md = self.md[(g, c)] = []
        bisect.insort(md, (m, d))

    def remove(self, res: Resources) -> None:
        c, m, d, g = res
        md = self.md[(g, c)]
        del md[bisect.bisect_left(md, (m, d))]
        if md:
            return
        del self.md[(g, c)]
        cpus = self.cpus[g]
        del cpus[bisect.bisect_left(cpus, c)]
        if cpus:
            return
        del self.cpus[g]
        del self.gpus[bisect.bisect_left(self.gpus, g)]

    def fitting(self, need: Resources) -> Iterator[Resources]:
        """Bucket keys that fit `need`, in best-fit order."""
        nc, nm, nd, ng = need
        gpus = self.gpus
        for gi in range(bisect.bisect_left(gpus, ng), len(gpus)):
            g = gpus[gi]
            cpus = self.cpus[g]
            for ci in range(bisect.bisect_left(cpus, nc), len(cpus)):
                c = cpus[ci]
                md = self.md[(g, c)]
                for mi in range(bisect.bisect_left(md, (nm, nd)), len(md)):
                    m, d = md[mi]
                    if d >= nd:
                        yield (c, m, d, g)


class Pool:
    """Remaining resources of every usable slot, bucketed per slot group."""

    __slots__ = ("buckets", "groups", "index", "remaining", "version")

    def __init__(self, groups: Sequence[SlotGroup], remaining: list[Resources]) -> None:
        self.groups = groups
        self.remaining = remaining
        """Indexed like the snapshot's slots; excluded slots keep their advertised values."""
        self.version = [0] * len(groups)
        """Per group, how many times its buckets changed: a best fit found at one version
        holds until the next (`core.negotiate` keeps them)."""
        self.buckets: list[dict[Resources, list[int]]] = []
        self.index: list[_Index] = []
        for group in groups:
            buckets: dict[Resources, list[int]] = {}
            # reversed so that popping from the end hands out slots in snapshot order
            for i in reversed(group.slots):
                buckets.setdefault(remaining[i], []).append(i)
            index = _Index()
            for res in buckets:
                index.add(res)
            self.buckets.append(buckets)
            self.index.append(index)

    def best_fit(
        self,
        group: int,
        need: Resources,
        accept: Callable[[Resources], bool] | None = None,
    ) -> Resources | None:
        """The least remaining resources in `group` that fit `need` (and pass `accept`)."""
        for res in self.index[group].fitting(need):
            if accept is None or accept(res):
                return res
        return None

    def fitting(self, group: int, need: Resources) -> list[Resources]:
        """Every bucket of `group` that fits `need`, best fit first."""
        return list(self.index[group].fitting(need))

    def take(self, group: int, res: Resources) -> int:
        """Remove one slot from bucket `res` of `group` and return its index."""
        self.version[group] += 1
        bucket = self.buckets[group][res]
        slot = bucket.pop()
        if not bucket:
            del self.buckets[group][res]
            self.index[group].remove(res)
        return slot

    def take_many(self, group: int, res: Resources, n: int) -> list[int]:
        """`take` n times from one bucket (n at most its count): the slots in the order taken."""
        self.version[group] += 1
        bucket = self.buckets[group][res]
        taken = bucket[-n:]
        taken.reverse()
        del bucket[-n:]
        if not bucket:
            del self.buckets[group][res]
            self.index[group].remove(res)
        return taken

    def put(self, group: int, slot: int, res: Resources) -> None:
        """Put a slot back with `res` left (nothing left: it leaves the pool)."""
        self.version[group] += 1
        if not self.groups[group].partitionable:
            self.remaining[slot] = carve.NOTHING
            return
        self.remaining[slot] = res
        if res == carve.NOTHING:
            return
        buckets = self.buckets[group]
        bucket = buckets.get(res)
        if bucket is None:
            buckets[res] = [slot]
            self.index[group].add(res)
        else:
            bucket.append(slot)

    def withdraw(self, group: int, slot: int, amount: Resources) -> None:
        """Take `amount` out of a particular slot (preemption uses its free part)."""
        self.version[group] += 1
        res = self.remaining[slot]
        bucket = self.buckets[group].get(res)
        if bucket is None or slot not in bucket:
            return
        bucket.remove(slot)
        if not bucket:
            del self.buckets[group][res]
            self.index[group].remove(res)
        left = carve.subtract(res, amount)
        self.put(group, slot, (max(0, left[0]), max(0, left[1]), max(0, left[2]), max(0, left[3])))

    def count(self, group: int, res: Resources) -> int:
        return len(self.buckets[group].get(res, ()))

    def slots_left(self, group: int) -> list[tuple[Resources, int]]:
        """(remaining resources, number of slots) of every bucket of a group."""
        return [(res, len(slots)) for res, slots in self.buckets[group].items()]


def fit_count(have: Resources, need: Resources) -> int:
    """How many dynamic slots of `need` can be carved out of `have` (large if need is zero)."""
    best = 1 << 30
    for h, n in zip(have, need, strict=True):
        if n > 0:
            best = min(best, h // n)
    return best
