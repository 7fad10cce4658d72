"""Hierarchical accounting groups: which group a submitter is in, what each
group may use this cycle, and in which order groups are negotiated.

Groups have dotted names (`atlas`, `atlas.prod`); the invented root `<none>`
(`model.NO_GROUP`) holds the whole pool and the submitters of no configured
group. Quotas follow HTCondor's hierarchical group quotas: static quotas in
slot-weight units, dynamic quotas as a fraction of the parent's, children
scaled down when they oversubscribe their parent, and surplus (unused quota)
shared first among siblings that accept it, then passed up the tree and down
into subtrees that accept it. `docs/fairshare.md` states the exact rules.

Neighbours: `core.config` holds the group settings; `core.negotiate` calls
`group_allocations` and `negotiation_order` each cycle and divides each
group's allocation among its submitters with `core.fairshare`. Pure.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from skyflock.core.config import GroupConfig, NegotiatorConfig
from skyflock.core.model import NO_GROUP

_EPS = 1e-9


# ---------------------------------------------------------------------------
# membership


_INDEXES: dict[int, tuple[tuple[GroupConfig, ...], dict[str, str], dict[str, tuple[str, ...]]]] = {}
"""Per group tuple (by identity): lower-cased name -> spelling, and a memo of ancestries."""


def _index(config: NegotiatorConfig) -> tuple[dict[str, str], dict[str, tuple[str, ...]]]:
    """Lower-cased group name -> configured spelling (group names are case-insensitive).

    Memoised per `config.groups` tuple: the negotiator asks for every job and
    claim each cycle. The memo holds the tuple itself, so its id is never
    reused while the entry lives.
    """
    entry = _INDEXES.get(id(config.groups))
    if entry is None or entry[0] is not config.groups:
        if len(_INDEXES) > 64:
            _INDEXES.clear()
        entry = (config.groups, {g.name.lower(): g.name for g in config.groups}, {})
        _INDEXES[id(config.groups)] = entry
    return entry[1], entry[2]


def group_ancestry(submitter: str, config: NegotiatorConfig) -> list[str]:
    """The configured groups containing `submitter`, deepest first (empty for `<none>`).

    A submitter "a.b.c" is in each configured group among "a.b.c", "a.b" and
    "a" (dotted prefixes, compared case-insensitively).
    """
    known, memo = _index(config)
    if not known:
        return []
    found = memo.get(submitter)
    if found is None:
        parts = submitter.lower().split(".")
        names = (known.get(".".join(parts[:end])) for end in range(len(parts), 0, -1))
        found = tuple(name for name in names if name is not None)
        if len(memo) < 100_000:
            memo[submitter] = found
    return list(found)


def group_of(submitter: str, config: NegotiatorConfig) -> str:
    """The longest configured dotted prefix of the submitter (`atlas.prod.alice` -> `atlas.prod`).

    Submitters of no configured group (plain owners like `alice`) belong to
    `model.NO_GROUP`.
    """
    known, memo = _index(config)
    if not known:
        return NO_GROUP
    found = memo.get(submitter)
    if found is None:
        ancestry = group_ancestry(submitter, config)
        return ancestry[0] if ancestry else NO_GROUP
    return found[0] if found else NO_GROUP


def parent_of(group: str, config: NegotiatorConfig) -> str:
    """The nearest configured proper prefix of `group`, else `NO_GROUP` (the root)."""
    if group == NO_GROUP or "." not in group:
        return NO_GROUP
    return group_of(group.rsplit(".", 1)[0], config)


# ---------------------------------------------------------------------------
# the quota tree


@dataclass(slots=True)
class _Node:
    name: str
    settings: GroupConfig | None
    children: list[_Node] = field(default_factory=list)
    subtree_quota: float = 0.0
    """The group's quota including its children's (what `quota`/`dynamic_quota` configure)."""
    own_quota: float = 0.0
    """What is left of the subtree quota for the group's own submitters."""
    demand: float = 0.0
    allocation: float = 0.0

    @property
    def accepts(self) -> bool:
        return True if self.settings is None else self.settings.accept_surplus


def _tree(config: NegotiatorConfig) -> _Node:
    root = _Node(NO_GROUP, None)
    nodes = {NO_GROUP: root}
    for group in sorted(config.groups, key=lambda g: (g.name.count("."), g.name)):
        nodes[group.name] = _Node(group.name, group)
    for group in config.groups:
        nodes[parent_of(group.name, config)].children.append(nodes[group.name])
    for node in nodes.values():
        node.children.sort(key=lambda n: n.name)
    return root


def _assign_quotas(node: _Node) -> None:
    """Top-down: static children first (scaled down to fit), dynamic ones share the rest."""
    available = node.subtree_quota
    static = [c for c in node.children if c.settings and c.settings.quota is not None]
    dynamic = [c for c in node.children if c.settings and c.settings.dynamic_quota is not None]
    static_sum = sum(c.settings.quota or 0.0 for c in static if c.settings)
    scale = available / static_sum if static_sum > available and static_sum > 0 else 1.0
    for child in static:
        child.subtree_quota = (child.settings.quota or 0.0) * scale if child.settings else 0.0
    remainder = max(0.0, available - sum(c.subtree_quota for c in static))
    fraction_sum = sum(c.settings.dynamic_quota or 0.0 for c in dynamic if c.settings)
    norm = fraction_sum if fraction_sum > 1.0 else 1.0
    for child in dynamic:
        fraction = (child.settings.dynamic_quota or 0.0) if child.settings else 0.0
        child.subtree_quota = remainder * fraction / norm
    for child in node.children:
        if child not in static and child not in dynamic:
            child.subtree_quota = 0.0
    node.own_quota = max(0.0, available - sum(c.subtree_quota for c in node.children))
    for child in node.children:
        _assign_quotas(child)


def _absorbable(node: _Node) -> float:
    """How much more this subtree can take as surplus (only through groups that accept it)."""
    if not node.accepts:
        return 0.0
    room = max(0.0, node.demand - node.allocation)
    return room + sum(_absorbable(c) for c in node.children)


def _share(amount: float, claimants: list[tuple[object, float, float]]) -> dict[int, float]:
    """Water-fill `amount` over (key, weight, cap) claimants in proportion to weight.

    Claimants with zero weight share equally what the weighted ones cannot use.
    Returns grants by claimant index.
    """
    grants = {i: 0.0 for i in range(len(claimants))}
    left = amount
    while left > _EPS:
        open_ = [i for i, (_, _, cap) in enumerate(claimants) if cap - grants[i] > _EPS]
        if not open_:
            break
        weighted = [i for i in open_ if claimants[i][1] > 0]
        if weighted:
            total = sum(claimants[i][1] for i in weighted)
            shares = {i: left * claimants[i][1] / total for i in weighted}
        else:
            shares = {i: left / len(open_) for i in open_}
        used = 0.0
        for i, want in shares.items():
            give = min(want, claimants[i][2] - grants[i])
            grants[i] += give
            used += give
        left -= used
        if used <= _EPS:
            break
    return grants


def _distribute(node: _Node, amount: float, *, include_self: bool) -> float:
    """Share `amount` of surplus inside this node's level: itself and its accepting children.

    Children receiving some pass it down into their own subtrees. Returns what
    was used.
    """
    claimants: list[tuple[object, float, float]] = []
    if include_self and node.accepts:
        claimants.append((node, node.own_quota, max(0.0, node.demand - node.allocation)))
    for child in node.children:
        room = _absorbable(child)
        if room > _EPS:
            claimants.append((child, child.subtree_quota, room))
    grants = _share(amount, claimants)
    used = 0.0
    for i, (who, _, _) in enumerate(claimants):
        grant = grants[i]
        if grant <= 0:
            continue
        assert isinstance(who, _Node)
        if who is node:
            node.allocation += grant
        else:
            _distribute(who, grant, include_self=True)
        used += grant
    return used


def _within_quota(node: _Node) -> float:
    """Bottom-up: fill each group from its own quota, share siblings' surplus, return the rest."""
    node.allocation = min(node.own_quota, node.demand)
    surplus = node.own_quota - node.allocation
    for child in node.children:
        surplus += _within_quota(child)
    used = _distribute(node, surplus, include_self=True)
    return max(0.0, surplus - used)


def group_allocations(
    config: NegotiatorConfig,
    demand_by_group: Mapping[str, float],
    capacity: float,
    usage_by_group: Mapping[str, float],
) -> dict[str, float]:
    """What each group's own submitters may hold this cycle (slot-weight units).

    `demand_by_group[g]` is everything the submitters directly in group `g`
    want (running plus idle slot weight; `NO_GROUP` for the ungrouped);
    `usage_by_group[g]` is what they hold now and counts as demand at least.
    The result maps every configured group and `NO_GROUP` to its allocation:
    its own quota capped by demand, plus any surplus it accepts. Allocations
    never exceed demand, and their sum never exceeds `capacity`.
    """
    root = _tree(config)
    root.subtree_quota = max(0.0, float(capacity))
    _assign_quotas(root)
    by_name: dict[str, _Node] = {}
    stack = [root]
    while stack:
        node = stack.pop()
        by_name[node.name] = node
        stack.extend(node.children)
    lowered = {name.lower(): node for name, node in by_name.items()}

    def node_of(name: str) -> _Node:
        # an unknown group's submitters negotiate as <none>
        return by_name.get(name) or lowered.get(name.lower()) or root

    for name, amount in demand_by_group.items():
        node_of(name).demand += max(0.0, float(amount))
    for name, amount in usage_by_group.items():
        node = node_of(name)
        node.demand = max(node.demand, float(amount))
    leftover = _within_quota(root)
    if leftover > _EPS:  # the root always accepts: <none> gets what is left
        root.allocation += min(leftover, max(0.0, root.demand - root.allocation))
    return {name: node.allocation for name, node in sorted(by_name.items())}


def group_quotas(config: NegotiatorConfig, capacity: float) -> dict[str, float]:
    """Each group's own configured quota for this capacity (before demand and surplus)."""
    root = _tree(config)
    root.subtree_quota = max(0.0, float(capacity))
    _assign_quotas(root)
    out: dict[str, float] = {}
    stack = [root]
    while stack:
        node = stack.pop()
        out[node.name] = node.own_quota
        stack.extend(node.children)
    return dict(sorted(out.items()))


def negotiation_order(
    config: NegotiatorConfig,
    allocations: Mapping[str, float],
    usage_by_group: Mapping[str, float],
) -> list[str]:
    """Starvation order: configured groups by usage / allocation ascending, `NO_GROUP` last.

    A group with no allocation but some usage sorts after every group with an
    allocation; ties go by name. Every configured group appears once.
    """
    names = {g.name for g in config.groups} | {n for n in allocations if n != NO_GROUP}

    def starvation(name: str) -> tuple[float, str]:
        quota = allocations.get(name, 0.0)
        used = usage_by_group.get(name, 0.0)
        if quota > _EPS:
            return used / quota, name
        return (math.inf if used > 0 else 1.0e300), name

    return [*sorted(names, key=starvation), NO_GROUP]
