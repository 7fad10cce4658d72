"""Resource arithmetic of dynamic slots: what a job asks for and what a slot has left.

A partitionable slot advertises what is still unclaimed (`Cpus`, `Memory` in
MiB, `Disk` in KiB, `GPUs`); a match carves a dynamic slot of the job's
requests out of it, memory rounded up to `NegotiatorConfig.memory_quantum`.
A static slot is taken whole. Resources are plain 4-tuples
`(cpus, memory, disk, gpus)` of ints so that slots with identical remaining
resources can share one dictionary key (the negotiator's slot buckets).

Neighbours: `core.autocluster` reads requests through `request_of`;
`core.negotiate` and `core.preempt` carve with `subtract`/`add`. Pure.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, TypeAlias

from skyflock.classad.values import ERROR, UNDEFINED

if TYPE_CHECKING:  # pragma: no cover - typing only
    from skyflock.classad import ClassAd

Resources: TypeAlias = tuple[int, int, int, int]
"""(cpus, memory MiB, disk KiB, gpus)."""

NOTHING: Resources = (0, 0, 0, 0)

RESOURCE_ATTRS = ("cpus", "memory", "disk", "gpus")
"""Lower-case names of a slot's remaining resources, in `Resources` order."""
TOTAL_ATTRS = ("totalcpus", "totalmemory", "totaldisk", "totalgpus")
REQUEST_ATTRS = ("requestcpus", "requestmemory", "requestdisk", "requestgpus")
REQUEST_NAMES = ("RequestCpus", "RequestMemory", "RequestDisk", "RequestGPUs")
"""Job attribute spellings of the requests, in `Resources` order."""


def round_memory(mib: int, quantum: int) -> int:
    """Round a memory request up to a multiple of `quantum` MiB (0 stays 0)."""
    if quantum <= 1 or mib <= 0:
        return max(0, mib)
    return -(-mib // quantum) * quantum


def _count(value: object, default: int) -> int:
    """A request or resource value as a non-negative int (fractions round up)."""
    if value is UNDEFINED or value is ERROR or isinstance(value, bool):
        return default
    if isinstance(value, int):
        return max(0, value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return default
        return max(0, math.ceil(value))
    return default


def request_of(ad: ClassAd, quantum: int) -> Resources:
    """The dynamic slot a job asks for.

    Defaults when the attribute is missing or not a number: 1 CPU, one memory
    quantum, no disk, no GPUs. Memory is rounded up to the quantum.
    """
    cpus = _count(ad.eval("RequestCpus"), 1)
    memory = _count(ad.eval("RequestMemory"), quantum)
    disk = _count(ad.eval("RequestDisk"), 0)
    gpus = _count(ad.eval("RequestGPUs"), 0)
    return (cpus, round_memory(memory, quantum), disk, gpus)


def remaining_of(ad: ClassAd) -> Resources:
    """What a slot ad advertises as still unclaimed (missing numbers count as 0)."""
    return (
        _count(ad.eval("Cpus"), 0),
        _count(ad.eval("Memory"), 0),
        _count(ad.eval("Disk"), 0),
        _count(ad.eval("GPUs"), 0),
    )


def totals_of(ad: ClassAd) -> Resources:
    """A slot's whole size: `TotalCpus`... falling back to what it has left."""
    left = remaining_of(ad)
    return (
        _count(ad.eval("TotalCpus"), left[0]),
        _count(ad.eval("TotalMemory"), left[1]),
        _count(ad.eval("TotalDisk"), left[2]),
        _count(ad.eval("TotalGPUs"), left[3]),
    )


def fits(have: Resources, need: Resources) -> bool:
    """Every resource of `need` is available in `have`."""
    return have[0] >= need[0] and have[1] >= need[1] and have[2] >= need[2] and have[3] >= need[3]


def subtract(have: Resources, need: Resources) -> Resources:
    return (have[0] - need[0], have[1] - need[1], have[2] - need[2], have[3] - need[3])


def add(a: Resources, b: Resources) -> Resources:
    return (a[0] + b[0], a[1] + b[1], a[2] + b[2], a[3] + b[3])


def shortfall(have: Resources, need: Resources) -> tuple[str, ...]:
    """Names of the requests `have` cannot satisfy (for explanations)."""
    return tuple(name for name, h, n in zip(REQUEST_NAMES, have, need, strict=True) if h < n)


def with_resources(ad: ClassAd, res: Resources) -> ClassAd:
    """A copy of a slot ad advertising `res` as what is left."""
    out = ad.copy()
    out["Cpus"], out["Memory"], out["Disk"], out["GPUs"] = res
    return out
