"""The slot side of a cycle: slot groups split into buckets of identical remaining resources.

Within one slot group (`core.autocluster.SlotGroup`) slots differ only in what
they have left, so the pool keeps, per group, a dictionary from remaining
resources to the slots that have exactly that much, plus the keys sorted in
best-fit order: fewest GPUs, then fewest CPUs, then least memory and disk.
Finding the best-fitting slot of a group for a request is a bisection and a
short forward scan; carving k jobs out of a slot moves it to another bucket.
Identical slots are never looked at one by one.

Neighbours: `core.negotiate` drives it, `core.matchtable` says which groups a
job group may use, `core.preempt` takes resources of claimed slots, and
`core.explain` reads what is left at the end of the cycle. Pure.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
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


class Pool:
    """Remaining resources of every usable slot, bucketed per slot group."""

    __slots__ = ("buckets", "groups", "keys", "remaining")

    def __init__(self, groups: Sequence[SlotGroup], remaining: list[Resources]) -> None:
        self.groups = groups
        self.remaining = remaining
        """Indexed like the snapshot's slots; excluded slots keep their advertised values."""
        self.buckets: list[dict[Resources, list[int]]] = []
        self.keys: list[list[FitKey]] = []
        for group in groups:
            buckets: dict[Resources, list[int]] = {}
            # reversed so that popping from the end hands out slots in snapshot order
            for i in reversed(group.slots):
                buckets.setdefault(remaining[i], []).append(i)
            self.buckets.append(buckets)
            self.keys.append(sorted(fit_key(r) for r in buckets))

    def best_fit(
        self,
        group: int,
        need: Resources,
        accept: Callable[[Resources], bool] | None = None,
    ) -> Resources | None:
        """The least remaining resources in `group` that fit `need` (and pass `accept`)."""
        keys = self.keys[group]
        start = bisect.bisect_left(keys, fit_key(need))
        c, m, d = need[0], need[1], need[2]
        for j in range(start, len(keys)):
            k = keys[j]
            if k[1] >= c and k[2] >= m and k[3] >= d:
                res = from_fit_key(k)
                if accept is None or accept(res):
                    return res
        return None

    def fitting(self, group: int, need: Resources) -> list[Resources]:
        """Every bucket of `group` that fits `need`, best fit first."""
        keys = self.keys[group]
        start = bisect.bisect_left(keys, fit_key(need))
        c, m, d = need[0], need[1], need[2]
        return [from_fit_key(k) for k in keys[start:] if k[1] >= c and k[2] >= m and k[3] >= d]

    def take(self, group: int, res: Resources) -> int:
        """Remove one slot from bucket `res` of `group` and return its index."""
        bucket = self.buckets[group][res]
        slot = bucket.pop()
        if not bucket:
            del self.buckets[group][res]
            keys = self.keys[group]
            del keys[bisect.bisect_left(keys, fit_key(res))]
        return slot

    def put(self, group: int, slot: int, res: Resources) -> None:
        """Put a slot back with `res` left (nothing left: it leaves the pool)."""
        self.remaining[slot] = res
        if res == carve.NOTHING or not self.groups[group].partitionable:
            if not self.groups[group].partitionable:
                self.remaining[slot] = carve.NOTHING
            return
        buckets = self.buckets[group]
        bucket = buckets.get(res)
        if bucket is None:
            buckets[res] = [slot]
            bisect.insort(self.keys[group], fit_key(res))
        else:
            bucket.append(slot)

    def withdraw(self, group: int, slot: int, amount: Resources) -> None:
        """Take `amount` out of a particular slot (preemption uses its free part)."""
        res = self.remaining[slot]
        bucket = self.buckets[group].get(res)
        if bucket is None or slot not in bucket:
            return
        bucket.remove(slot)
        if not bucket:
            del self.buckets[group][res]
            keys = self.keys[group]
            del keys[bisect.bisect_left(keys, fit_key(res))]
        left = carve.subtract(res, amount)
        self.put(group, slot, tuple(max(0, x) for x in left))  # type: ignore[arg-type]

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
