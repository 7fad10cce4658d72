"""The federation registry: clusters, their health, and the slots they offer.

A cluster is a federation member (`local`, `kubernetes` or `agents`) with an
overflow tier, a cost, caps (e.g. ``{"cpus": 64}``), backend settings
(``config``: a kubeconfig context, say), a cordon flag and its health as of
the last heartbeat. Each cluster's current slot ads are replaced as a whole
by `set_slots` when its backend reports capacity.

Neighbours: the manager (heartbeats, slots, `states` for the negotiator's
`Snapshot`), the API (CRUD, cordon), `core.model.ClusterState`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, delete, insert, select, update

from skyflock.core.model import ClusterState
from skyflock.store.engine import read_options, upsert
from skyflock.store.schema import clusters, slots

if TYPE_CHECKING:  # pragma: no cover - typing only
    from skyflock.classad import ClassAd


class ClusterKind(StrEnum):
    LOCAL = "local"
    KUBERNETES = "kubernetes"
    AGENTS = "agents"


class UnknownCluster(LookupError):
    def __init__(self, name: str) -> None:
        super().__init__(f"no cluster named {name!r} is registered")
        self.name = name


@dataclass(frozen=True, slots=True)
class ClusterRecord:
    name: str
    kind: str
    """"local", "kubernetes" or "agents" (see `ClusterKind`)."""
    tier: int = 0
    cost: float = 0.0
    caps: Mapping[str, float] = field(default_factory=dict)
    config: Mapping[str, Any] = field(default_factory=dict)
    cordoned: bool = False
    healthy: bool = True
    health_message: str = ""
    last_heartbeat: float | None = None

    def to_state(self) -> ClusterState:
        """The negotiator's view of this cluster."""
        return ClusterState(self.name, self.tier, self.cordoned, self.healthy)


@dataclass(frozen=True)
class SlotRecord:
    id: str
    cluster_name: str
    ad_text: str
    updated_at: float

    @cached_property
    def ad(self) -> ClassAd:
        from skyflock.store.codec import decode

        return decode(self.ad_text)


def _record(row: Any) -> ClusterRecord:
    m = row._mapping
    return ClusterRecord(
        name=m["name"],
        kind=m["kind"],
        tier=m["tier"],
        cost=m["cost"],
        caps=dict(m["caps"] or {}),
        config=dict(m["config"] or {}),
        cordoned=bool(m["cordoned"]),
        healthy=bool(m["healthy"]),
        health_message=m["health_message"],
        last_heartbeat=m["last_heartbeat"],
    )


class Clusters:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def put(self, record: ClusterRecord) -> None:
        """Register a cluster or replace its definition (all fields of `record`).

        Raises ValueError naming the field when the kind is unknown or a cap
        is not a number.
        """
        kinds = {k.value for k in ClusterKind}
        if record.kind not in kinds:
            raise ValueError(
                f"cluster {record.name!r}: kind must be one of {sorted(kinds)}, got {record.kind!r}"
            )
        if not record.name:
            raise ValueError("cluster: a name is required")
        for key, value in record.caps.items():
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"cluster {record.name!r}: caps.{key} must be a number")
        row = {
            "name": record.name,
            "kind": str(record.kind),
            "tier": int(record.tier),
            "cost": float(record.cost),
            "caps": dict(record.caps),
            "config": dict(record.config),
            "cordoned": bool(record.cordoned),
            "healthy": bool(record.healthy),
            "health_message": record.health_message,
            "last_heartbeat": record.last_heartbeat,
        }
        with self._engine.begin() as conn:
            upsert(conn, clusters, [row], keys=("name",))

    def get(self, name: str) -> ClusterRecord | None:
        with self._engine.connect().execution_options(**read_options) as conn:
            row = conn.execute(select(clusters).where(clusters.c.name == name)).one_or_none()
        return None if row is None else _record(row)

    def all(self) -> list[ClusterRecord]:
        """Every registered cluster, by tier then name."""
        stmt = select(clusters).order_by(clusters.c.tier, clusters.c.name)
        with self._engine.connect().execution_options(**read_options) as conn:
            return [_record(r) for r in conn.execute(stmt)]

    def states(self) -> dict[str, ClusterState]:
        """The negotiator's view of every cluster, by name."""
        return {c.name: c.to_state() for c in self.all()}

    def delete(self, name: str) -> bool:
        """Forget a cluster and its slots; False when there was none of that name."""
        with self._engine.begin() as conn:
            conn.execute(delete(slots).where(slots.c.cluster_name == name))
            result = conn.execute(delete(clusters).where(clusters.c.name == name))
        return bool(result.rowcount)

    def set_cordoned(self, name: str, cordoned: bool) -> None:
        """Cordon (no new jobs go there) or uncordon a cluster; raises UnknownCluster."""
        self._update(name, cordoned=bool(cordoned))

    def heartbeat(
        self, name: str, *, healthy: bool = True, message: str = "", now: float | None = None
    ) -> None:
        """Record the cluster's health as reported now; raises UnknownCluster."""
        when = time.time() if now is None else now
        self._update(name, healthy=bool(healthy), health_message=message, last_heartbeat=when)

    def _update(self, name: str, **values: Any) -> None:
        with self._engine.begin() as conn:
            result = conn.execute(update(clusters).where(clusters.c.name == name).values(values))
            if not result.rowcount:
                raise UnknownCluster(name)

    def set_slots(
        self, name: str, ads: Mapping[str, ClassAd | str], *, now: float | None = None
    ) -> None:
        """Replace the cluster's slot ads (slot id -> ad) in one transaction."""
        when = time.time() if now is None else now
        rows = [
            {"id": slot_id, "cluster_name": name, "ad": _ad_text(ad), "updated_at": when}
            for slot_id, ad in ads.items()
        ]
        with self._engine.begin() as conn:
            exists = conn.execute(
                select(clusters.c.name).where(clusters.c.name == name)
            ).one_or_none()
            if exists is None:
                raise UnknownCluster(name)
            conn.execute(delete(slots).where(slots.c.cluster_name == name))
            if rows:
                conn.execute(insert(slots), rows)

    def slots(self, cluster_name: str | None = None) -> list[SlotRecord]:
        """Slot ads of one cluster (or of all), by cluster then slot id."""
        stmt = select(slots).order_by(slots.c.cluster_name, slots.c.id)
        if cluster_name is not None:
            stmt = stmt.where(slots.c.cluster_name == cluster_name)
        with self._engine.connect().execution_options(**read_options) as conn:
            return [
                SlotRecord(r.id, r.cluster_name, r.ad, r.updated_at) for r in conn.execute(stmt)
            ]


def _ad_text(ad: ClassAd | str) -> str:
    if isinstance(ad, str):
        return ad
    from skyflock.store.codec import encode

    return encode(ad)
