"""Many transitions of many jobs in ONE transaction: the manager's write pass.

The manager folds the outcomes of a short stretch of time (jobs started,
exited, retried, held, matched...) into a `JobBatch` and commits it with
`JobQueue.apply`. Each kind of transition is the same guarded move as its
`JobQueue` method (same legal sources, same events, the same refusals), and
the log index rows go in with them; the whole batch commits or nothing does,
so a crash never leaves one job's start written without its log index, and
a pass costs one commit however many kinds of change it carries.

Order inside the transaction is the order a job can go through them in one
pass: started, completed, retried, held (and at once vacated when its process
is already gone), evicted, unmatched, vacated, matched.

Neighbours: `store.jobs` (the transitions it runs on one connection),
`store.logs` (the index rows), `manager.flush` (its only writer).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from skyflock.store.records import ExitStatus, TransitionResult

if TYPE_CHECKING:  # pragma: no cover - typing only
    from skyflock.core.model import Match
    from skyflock.store.logs import LogEntry


@dataclass(slots=True)
class JobBatch:
    """Transitions to commit together; every field may be empty."""

    started: Mapping[str, str] = field(default_factory=dict)
    """job -> the backend's handle of its process."""
    logs: Sequence[LogEntry] = ()
    completed: Mapping[str, ExitStatus] = field(default_factory=dict)
    """job -> exit code, or (code, signal) (see `records.split_exit`)."""
    retried: Mapping[str, Mapping[str, ExitStatus]] = field(default_factory=dict)
    """reason -> job -> exit code, or (code, signal)."""
    held: Mapping[tuple[str, int, int], Sequence[str]] = field(default_factory=dict)
    """(reason, HoldReasonCode, subcode) -> jobs whose process is already gone."""
    evicted: Mapping[str, Sequence[str]] = field(default_factory=dict)
    """reason -> jobs."""
    unmatched: Mapping[str, Sequence[str]] = field(default_factory=dict)
    """reason -> jobs."""
    vacated: Sequence[str] = ()
    matches: Sequence[Match] = ()

    def __bool__(self) -> bool:
        return bool(
            self.started
            or self.logs
            or self.completed
            or self.retried
            or self.held
            or self.evicted
            or self.unmatched
            or self.vacated
            or self.matches
        )


@dataclass(frozen=True, slots=True)
class BatchResult:
    """What each transition of the batch did, in the order they ran."""

    results: tuple[TransitionResult, ...]

    def moved(self, action: str) -> tuple[str, ...]:
        """The jobs moved by every transition called `action` (e.g. "match")."""
        return tuple(j for r in self.results if r.action == action for j in r.moved)

    @property
    def refused(self) -> list[tuple[str, str, str]]:
        """(action, job, message) of every refusal."""
        return [(r.action, f.job_id, f.message) for r in self.results for f in r.refused]
