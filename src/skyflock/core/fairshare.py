"""Fair share: decayed usage, effective priorities and the pie spin.

This is the accounting half of the negotiator. `account` folds the claims that
ran since the last update into each submitter's real priority (HTCondor's
exponential decay with a half-life); `effective_priority` multiplies it by the
submitter's priority factor; `submitter_limits` divides a pool among
submitters in inverse proportion to their effective priorities (the "pie
spin"), respecting floors, ceilings and demand.

Neighbours: `core.config` supplies the settings, `core.groups` divides the pool
among accounting groups before this module divides a group's share among its
submitters, and `core.negotiate` calls all three each cycle. The simulator and
the manager call `account`. Pure: no clock, no I/O; time is an argument.
`docs/fairshare.md` states the rules and derives their steady states.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from functools import lru_cache
from typing import Any

from skyflock.core.config import NegotiatorConfig
from skyflock.core.groups import group_ancestry
from skyflock.core.model import AccountingState, Claim, SubmitterUsage

_TINY = 1e-12


def decay_factor(dt: float, halflife: float) -> float:
    """`b = 0.5 ** (dt / halflife)`: the weight the old real priority keeps after `dt` seconds."""
    if dt <= 0:
        return 1.0
    if halflife <= 0:
        return 0.0
    return float(0.5 ** (dt / halflife))


# ---------------------------------------------------------------------------
# slot weight


@lru_cache(maxsize=64)
def _compiled_weight(expression: str) -> Callable[[Any, Any], Any] | None:
    """Compile a slot-weight expression once; None means the plain `Cpus` fast path."""
    if expression.strip().lower() in {"cpus", "my.cpus"}:
        return None
    from skyflock.classad import parse

    return parse(expression).compile()


def slot_weight(
    cpus: float, memory: float, disk: float, gpus: float, config: NegotiatorConfig
) -> float:
    """The usage per second of a dynamic slot with these resources (`config.slot_weight`).

    The expression sees the slot as `Cpus`, `Memory` (MiB), `Disk` (KiB) and
    `GPUs`. A result that is not a number counts as 0.
    """
    fn = _compiled_weight(config.slot_weight)
    if fn is None:
        return float(cpus)
    from skyflock.classad import ClassAd

    ad = ClassAd({"Cpus": cpus, "Memory": memory, "Disk": disk, "GPUs": gpus})
    value = fn(ad, None)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0.0
    return float(value)


def claim_weight(claim: Claim, config: NegotiatorConfig) -> float:
    """The slot weight of a claim's dynamic slot."""
    return slot_weight(claim.cpus, claim.memory, claim.disk, claim.gpus, config)


def usage_by_submitter(running: Iterable[Claim], config: NegotiatorConfig) -> dict[str, float]:
    """Sum of slot weights of the running claims, per submitter."""
    usage: dict[str, float] = {}
    plain = _compiled_weight(config.slot_weight) is None
    for claim in running:
        who = claim.job.submitter
        weight = float(claim.cpus) if plain else claim_weight(claim, config)
        usage[who] = usage.get(who, 0.0) + weight
    return usage


def charges_by_submitter(
    running: Iterable[Claim],
    ended: Iterable[tuple[Claim, float]],
    since: float,
    now: float,
    config: NegotiatorConfig,
) -> dict[str, float]:
    """Slot-weight seconds each submitter used in the interval (since, now].

    A claim is charged for the part of its run inside the interval: a running
    one from `max(started_at, since)` to `now`, an ended one up to its end. So a
    job that started and ended between two calls is charged what it ran, and
    its submitter appears with a charge even when that is 0.
    """
    charges: dict[str, float] = {}
    plain = _compiled_weight(config.slot_weight) is None
    runs = [(claim, now) for claim in running]
    runs.extend(ended)
    for claim, end in runs:
        seconds = max(0.0, min(end, now) - max(claim.started_at, since))
        weight = float(claim.cpus) if plain else claim_weight(claim, config)
        who = claim.job.submitter
        charges[who] = charges.get(who, 0.0) + weight * seconds
    return charges


# ---------------------------------------------------------------------------
# priorities


def priority_factor(state: AccountingState, submitter: str, config: NegotiatorConfig) -> float:
    """The submitter's priority factor.

    First match wins: the `userprio` setting kept in the accounting state, the
    `[submitters.NAME]` config, the factor of the submitter's group or its
    nearest ancestor that sets one, the configured default.
    """
    usage = state.submitters.get(submitter)
    if usage is not None and usage.priority_factor is not None:
        return usage.priority_factor
    configured = config.submitter(submitter)
    if configured is not None and configured.priority_factor is not None:
        return configured.priority_factor
    for group in group_ancestry(submitter, config):
        settings = config.group(group)
        if settings is not None and settings.priority_factor is not None:
            return settings.priority_factor
    return config.default_priority_factor


def real_priority(state: AccountingState, submitter: str, config: NegotiatorConfig) -> float:
    """The decayed usage (never below `config.min_priority`); new submitters start at the minimum."""
    usage = state.submitters.get(submitter)
    rp = config.min_priority if usage is None else usage.real_priority
    return max(rp, config.min_priority)


def effective_priority(state: AccountingState, submitter: str, config: NegotiatorConfig) -> float:
    """Real priority × priority factor. Lower is better."""
    return real_priority(state, submitter, config) * priority_factor(state, submitter, config)


def submitter_bounds(
    state: AccountingState, submitters: Iterable[str], config: NegotiatorConfig
) -> tuple[dict[str, float], dict[str, float]]:
    """Floors and ceilings (slot-weight units) of these submitters.

    A `userprio` setting in the state wins over `[submitters.NAME]`; a
    submitter with neither is left out of the returned mapping (no floor, no
    ceiling).
    """
    floors: dict[str, float] = {}
    ceilings: dict[str, float] = {}
    for name in submitters:
        usage = state.submitters.get(name)
        configured = config.submitter(name)
        floor = usage.floor if usage is not None and usage.floor is not None else None
        if floor is None and configured is not None:
            floor = configured.floor
        ceiling = usage.ceiling if usage is not None and usage.ceiling is not None else None
        if ceiling is None and configured is not None:
            ceiling = configured.ceiling
        if floor is not None:
            floors[name] = floor
        if ceiling is not None:
            ceilings[name] = ceiling
    return floors, ceilings


# ---------------------------------------------------------------------------
# the pie spin


def submitter_limits(
    demand: Mapping[str, float],
    effective: Mapping[str, float],
    capacity: float,
    *,
    floors: Mapping[str, float],
    ceilings: Mapping[str, float],
) -> dict[str, float]:
    """Divide `capacity` among submitters: the pie spin, in slot-weight units.

    `demand[s]` is everything submitter `s` wants (running plus idle slot
    weight); the result is the total it may hold this cycle (running
    included). Each submitter is first raised to its floor (capped by its
    demand and ceiling; floors are scaled down together if they exceed the
    capacity). What remains is spun in inverse proportion to effective
    priority; a submitter capped by demand or ceiling gives its excess back
    and the pie is spun again until the capacity or the demand runs out.

    The respins converge to a water level λ: limit(s) = clamp(λ / ep(s),
    low(s), high(s)) with low = min(floor, high) and high = min(demand,
    ceiling), and Σ limit = capacity whenever Σ high exceeds it. This
    function computes λ exactly instead of spinning.
    """
    names = sorted(demand)
    capacity = max(0.0, float(capacity))
    high: dict[str, float] = {}
    low: dict[str, float] = {}
    weight: dict[str, float] = {}
    for name in names:
        hi = max(0.0, float(demand[name]))
        if name in ceilings:
            hi = min(hi, max(0.0, float(ceilings[name])))
        high[name] = hi
        low[name] = min(hi, max(0.0, float(floors.get(name, 0.0))))
        ep = float(effective.get(name, math.inf))
        weight[name] = 1.0 / max(ep, _TINY) if math.isfinite(ep) else _TINY
    total_high = sum(high.values())
    if total_high <= capacity:
        return dict(high)
    total_low = sum(low.values())
    if total_low >= capacity:
        scale = capacity / total_low if total_low > 0 else 0.0
        return {name: low[name] * scale for name in names}

    def filled(level: float) -> float:
        return sum(min(high[n], max(low[n], level * weight[n])) for n in names)

    breakpoints = sorted({low[n] / weight[n] for n in names} | {high[n] / weight[n] for n in names})
    sums = [filled(bp) for bp in breakpoints]
    k = bisect.bisect_left(sums, capacity)
    if k >= len(breakpoints):  # pragma: no cover - guarded by total_high > capacity
        return dict(high)
    if k == 0:
        level = breakpoints[0]
    else:
        lo_bp, hi_bp = breakpoints[k - 1], breakpoints[k]
        lo_sum, hi_sum = sums[k - 1], sums[k]
        span = hi_sum - lo_sum
        level = lo_bp + (capacity - lo_sum) * (hi_bp - lo_bp) / span if span > 0 else hi_bp
    return {n: min(high[n], max(low[n], level * weight[n])) for n in names}


# ---------------------------------------------------------------------------
# accounting


def account(
    state: AccountingState,
    running: Sequence[Claim],
    now: float,
    config: NegotiatorConfig,
    ended: Sequence[tuple[Claim, float]] = (),
) -> AccountingState:
    """Fold the claims that ran since `state.last_update` into the accounting.

    With dt = now − last_update and b = 0.5 ** (dt / halflife), each
    submitter's real priority becomes `b·rp + (1−b)·usage`, never below the
    minimum. Usage is the submitter's mean slot weight over the interval: the
    weight-seconds of its claims inside (last_update, now] (`running` ones up
    to `now`, `ended` ones, each with its end time, up to their end) divided by
    dt; its accumulated usage grows by those weight-seconds. Submitters without
    claims decay toward the minimum. The first call (no last_update) only
    records the time. Priority factors, floors and ceilings are kept.
    """
    last = state.last_update
    if last is None:
        names = set(state.submitters) | {c.job.submitter for c in running}
        names |= {c.job.submitter for c, _ in ended}
        first = {
            name: state.submitters.get(name) or SubmitterUsage(real_priority=config.min_priority)
            for name in sorted(names)
        }
        return AccountingState(submitters=first, last_update=now)
    dt = max(0.0, now - last)
    b = decay_factor(dt, config.halflife)
    charges = charges_by_submitter(running, ended, last, now, config)
    submitters: dict[str, SubmitterUsage] = {}
    for name in sorted(set(state.submitters) | set(charges)):
        old = state.submitters.get(name) or SubmitterUsage(real_priority=config.min_priority)
        charged = charges.get(name, 0.0)
        used = charged / dt if dt > 0 else 0.0
        rp = b * max(old.real_priority, config.min_priority) + (1.0 - b) * used
        submitters[name] = replace(
            old,
            real_priority=max(rp, config.min_priority),
            accumulated_usage=old.accumulated_usage + charged,
        )
    return AccountingState(submitters=submitters, last_update=max(now, last))
