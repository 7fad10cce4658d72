"""The top-level `&&` clauses of Requirements and Start, and what each one reads.

Matchmaking evaluates a job group against a slot group once per cycle; what
can change within a cycle is only a partitionable slot's remaining resources
(`Cpus`, `Memory`, `Disk`, `GPUs`). This module splits an expression into its
top-level clauses and sorts them into three kinds:

- *static* clauses read no remaining resource: evaluated once per
  (job group, slot group);
- clauses *implied by fit*, the `TARGET.Memory >= RequestMemory` that submit
  appends to every job (or `MY.Cpus >= TARGET.RequestCpus` in a slot's
  Start): true whenever the carved dynamic slot fits, which the negotiator
  checks numerically anyway, so they are never evaluated;
- *dynamic* clauses (any other reading of remaining resources): evaluated
  per (job group, slot group, remaining resources), the slow path.

The same split gives `core.explain` its per-clause rejection counts.
Reference collection here is deliberately conservative: an unscoped name
counts as read from both ads (an extra name only costs precision, never
correctness). Neighbours: `core.negotiate`, `core.explain`. Pure.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from skyflock.classad.nodes import AttrRef, Binary, Paren
from skyflock.core import carve

if TYPE_CHECKING:  # pragma: no cover - typing only
    from skyflock.classad import ClassAd, Expr
    from skyflock.core.carve import Resources


def split_and(expr: Expr | None) -> list[Expr]:
    """The top-level `&&` operands of `expr`, outer parentheses removed (empty for None)."""
    if expr is None:
        return []
    out: list[Expr] = []
    stack = [expr]
    while stack:
        node = stack.pop()
        while isinstance(node, Paren):
            node = node.inner
        if isinstance(node, Binary) and node.op == "&&":
            stack.append(node.right)
            stack.append(node.left)
        else:
            out.append(node)
    return out


def unparen(expr: Expr) -> Expr:
    while isinstance(expr, Paren):
        expr = expr.inner
    return expr


def names_read(expr: Expr) -> tuple[set[str], set[str]]:
    """(names read from MY, names read from TARGET), lower case; unscoped names in both."""
    mine: set[str] = set()
    theirs: set[str] = set()
    stack = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, AttrRef):
            if node.scope == "target":
                theirs.add(node.key)
            elif node.scope in (None, "my", "parent", "root"):
                mine.add(node.key)
                if node.scope is None:
                    theirs.add(node.key)
        stack.extend(node.children())
    return mine, theirs


def names_read_in(expr: Expr, my: ClassAd | None) -> tuple[set[str], set[str]]:
    """`names_read`, with unscoped names that `my` defines counted as MY's only."""
    mine, theirs = names_read(expr)
    if my is not None:
        theirs = {n for n in theirs if n not in mine or n not in my}
    return mine, theirs


def expressions_read(exprs: Iterable[Expr]) -> set[str]:
    """Every name any of these expressions may read, from either ad."""
    out: set[str] = set()
    for expr in exprs:
        mine, theirs = names_read(expr)
        out |= mine | theirs
    return out


def resource_dependent(slot_ads: Iterable[ClassAd]) -> set[str]:
    """Slot attribute names whose value can change as the slot is carved.

    The remaining resources themselves, and every attribute of the given slot
    ads whose expression reads one of them (transitively).
    """
    tainted = set(carve.RESOURCE_ATTRS)
    ads = list(slot_ads)
    changed = True
    while changed:
        changed = False
        for ad in ads:
            for name in ad:
                key = name.lower()
                if key in tainted:
                    continue
                expr = ad.lookup(key)
                if expr is None:
                    continue
                mine, _ = names_read(expr)
                if mine & tainted:
                    tainted.add(key)
                    changed = True
    return tainted


_FLIP = {">=": "<=", "<=": ">=", ">": "<", "<": ">"}


def _resource_bound(clause: Expr, *, slot_side: bool) -> tuple[int, Expr] | None:
    """For `R >= X` (or `X <= R`), R a slot resource, the resource index and X."""
    node = unparen(clause)
    if not isinstance(node, Binary) or node.op not in (">=", "<="):
        return None
    left, op, right = unparen(node.left), node.op, unparen(node.right)
    if op == "<=":
        left, right = right, left
    if not isinstance(left, AttrRef) or left.key not in carve.RESOURCE_ATTRS:
        return None
    wanted = ("my", None) if slot_side else ("target", None)
    if left.scope not in wanted:
        return None
    return carve.RESOURCE_ATTRS.index(left.key), right


def implied_by_fit(
    clause: Expr,
    *,
    slot_side: bool,
    job: ClassAd,
    slot: ClassAd | None,
    request: Resources,
    tainted: set[str],
) -> bool:
    """Whether the clause holds on every slot the request numerically fits.

    Job side (MY=job, TARGET=slot): `TARGET.Memory >= RequestMemory` where the
    bound reads nothing from the slot. Slot side (MY=slot, TARGET=job):
    `MY.Cpus >= TARGET.RequestCpus` where the bound reads no remaining
    resource. The bound must evaluate to a number no larger than the request.
    """
    found = _resource_bound(clause, slot_side=slot_side)
    if found is None:
        return False
    index, bound = found
    mine, theirs = names_read(bound)
    if slot_side:
        if slot is None or mine & tainted:
            return False
        value = bound.eval(slot, job)
    else:
        if theirs - mine or (theirs & tainted):
            # the bound must read only the job (unscoped names resolve in the job)
            return False
        if left_is_unscoped(clause) and clause_reads_job_resource(clause, job):
            return False
        value = bound.eval(job, None)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return value <= request[index]


def left_is_unscoped(clause: Expr) -> bool:
    found = _resource_bound(clause, slot_side=False)
    if found is None:
        return False
    node = unparen(clause)
    assert isinstance(node, Binary)
    ref = unparen(node.left if node.op == ">=" else node.right)
    return isinstance(ref, AttrRef) and ref.scope is None


def clause_reads_job_resource(clause: Expr, job: ClassAd) -> bool:
    """An unscoped `Memory` resolves in the job first when the job defines it."""
    found = _resource_bound(clause, slot_side=False)
    return found is not None and carve.RESOURCE_ATTRS[found[0]] in job


@dataclass(frozen=True, slots=True)
class Split:
    """The clauses of one side: settled per group pair, or per remaining resources."""

    static: tuple[Expr, ...] = ()
    dynamic: tuple[Expr, ...] = ()


def split_job(
    requirements: Expr | None, *, job: ClassAd, request: Resources, tainted: set[str]
) -> Split:
    """Sort the clauses of a job's Requirements (MY = job, TARGET = slot)."""
    static: list[Expr] = []
    dynamic: list[Expr] = []
    for clause in split_and(requirements):
        _, theirs = names_read(clause)
        if not theirs & tainted:
            static.append(clause)
        elif not implied_by_fit(
            clause, slot_side=False, job=job, slot=None, request=request, tainted=tainted
        ):
            dynamic.append(clause)
    return Split(tuple(static), tuple(dynamic))


def split_slot(
    exprs: Iterable[Expr],
    *,
    job: ClassAd,
    slot: ClassAd,
    request: Resources,
    tainted: set[str],
) -> Split:
    """Sort the clauses of a slot's Start and Requirements (MY = slot, TARGET = job)."""
    static: list[Expr] = []
    dynamic: list[Expr] = []
    for expr in exprs:
        for clause in split_and(expr):
            mine, _ = names_read(clause)
            if not mine & tainted:
                static.append(clause)
            elif not implied_by_fit(
                clause, slot_side=True, job=job, slot=slot, request=request, tainted=tainted
            ):
                dynamic.append(clause)
    return Split(tuple(static), tuple(dynamic))


def all_true(clauses: Iterable[Expr], my: ClassAd, target: ClassAd) -> bool:
    """Every clause evaluates to exactly `true` (the && of them would)."""
    return all(clause.compile()(my, target) is True for clause in clauses)
