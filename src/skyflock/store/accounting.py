"""Fair-share state on disk: decayed usage per submitter and `userprio` settings.

Two owners write here and must not undo each other, so they write different
tables: the manager's accounting step saves usage (`save`: each submitter's
real priority and accumulated usage, and the time of the update), and
`userprio` changes a submitter's priority factor, floor and ceiling
(`update_settings`). `load` joins both into core's `AccountingState`.

Neighbours: `core.model.AccountingState` (the value), `core.fairshare` (which
computes it), the manager (load on start, save after each `account`), the API.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum
from typing import Final

from sqlalchemy import Engine, delete, select

from skyflock.core.model import AccountingState, SubmitterUsage
from skyflock.store.engine import read_options, upsert
from skyflock.store.schema import accounting_meta, accounting_usage, submitter_settings


class _Keep(Enum):
    KEEP = "keep"


KEEP: Final = _Keep.KEEP
"""Leave this setting as it is (the default of `update_settings`' arguments)."""


@dataclass(frozen=True, slots=True)
class SubmitterSettings:
    """A submitter's `userprio` settings; None means the configured default."""

    priority_factor: float | None = None
    floor: float | None = None
    ceiling: float | None = None


def _checked(name: str, value: float | None) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{name}: expected a finite number, got {value!r}")
    if value < 0:
        raise ValueError(f"{name}: must not be negative, got {value!r}")
    return float(value)


class Accounting:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def load(self) -> AccountingState:
        """Usage and settings of every known submitter (empty on a new store)."""
        with self._engine.connect().execution_options(**read_options) as conn:
            usage = {r.submitter: r for r in conn.execute(select(accounting_usage))}
            settings = {r.submitter: r for r in conn.execute(select(submitter_settings))}
            last = conn.execute(
                select(accounting_meta.c.last_update).where(accounting_meta.c.id == 1)
            ).scalar_one_or_none()
        submitters: dict[str, SubmitterUsage] = {}
        for name in sorted(usage.keys() | settings.keys()):
            u, s = usage.get(name), settings.get(name)
            defaults = SubmitterUsage()
            submitters[name] = SubmitterUsage(
                real_priority=defaults.real_priority if u is None else u.real_priority,
                accumulated_usage=defaults.accumulated_usage if u is None else u.accumulated_usage,
                priority_factor=None if s is None else s.priority_factor,
                floor=None if s is None else s.floor,
                ceiling=None if s is None else s.ceiling,
            )
        return AccountingState(submitters=submitters, last_update=last)

    def save(self, state: AccountingState) -> None:
        """Replace the stored usage with `state`'s, in one transaction.

        Only usage (real priority, accumulated usage, last update) is saved;
        the settings in `state` are ignored — `update_settings` owns them.
        """
        rows = [
            {
                "submitter": name,
                "real_priority": float(u.real_priority),
                "accumulated_usage": float(u.accumulated_usage),
            }
            for name, u in state.submitters.items()
        ]
        with self._engine.begin() as conn:
            names = list(state.submitters)
            conn.execute(delete(accounting_usage).where(accounting_usage.c.submitter.not_in(names)))
            upsert(conn, accounting_usage, rows, keys=("submitter",))
            upsert(
                conn, accounting_meta, [{"id": 1, "last_update": state.last_update}], keys=("id",)
            )

    def settings(self) -> dict[str, SubmitterSettings]:
        with self._engine.connect().execution_options(**read_options) as conn:
            return {
                r.submitter: SubmitterSettings(r.priority_factor, r.floor, r.ceiling)
                for r in conn.execute(select(submitter_settings))
            }

    def update_settings(
        self,
        submitter: str,
        *,
        priority_factor: float | _Keep | None = KEEP,
        floor: float | _Keep | None = KEEP,
        ceiling: float | _Keep | None = KEEP,
    ) -> SubmitterSettings:
        """Change some of a submitter's settings (None resets one to the default).

        Raises ValueError naming the setting when a value is negative or not a
        number, or when the floor would exceed the ceiling.
        """
        if not submitter:
            raise ValueError("submitter: a name is required")
        changes = {
            name: _checked(name, value)
            for name, value in (
                ("priority_factor", priority_factor),
                ("floor", floor),
                ("ceiling", ceiling),
            )
            if not isinstance(value, _Keep)
        }
        if "priority_factor" in changes and changes["priority_factor"] == 0:
            raise ValueError("priority_factor: must be greater than 0")
        t = submitter_settings
        with self._engine.begin() as conn:
            row = conn.execute(
                select(t).where(t.c.submitter == submitter).with_for_update()
            ).one_or_none()
            current = (
                SubmitterSettings()
                if row is None
                else SubmitterSettings(row.priority_factor, row.floor, row.ceiling)
            )
            merged = SubmitterSettings(
                changes.get("priority_factor", current.priority_factor),
                changes.get("floor", current.floor),
                changes.get("ceiling", current.ceiling),
            )
            if (
                merged.floor is not None
                and merged.ceiling is not None
                and merged.floor > merged.ceiling
            ):
                raise ValueError(
                    f"floor ({merged.floor:g}) must not exceed ceiling ({merged.ceiling:g})"
                )
            upsert(
                conn,
                t,
                [
                    {
                        "submitter": submitter,
                        "priority_factor": merged.priority_factor,
                        "floor": merged.floor,
                        "ceiling": merged.ceiling,
                    }
                ],
                keys=("submitter",),
            )
        return merged
