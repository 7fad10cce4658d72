"""A running job as the `local` backend tracks it, whoever spawned its process.

Both halves of the backend fill in and read the same record: `local` for the
jobs it spawns or adopts itself, `local_via_starter` for the jobs the data
dir's starter process runs. It lives apart from both so that neither has to
import the other to build one.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from skyflock.backends.base import ExitReason, LaunchSpec


@dataclass(slots=True, eq=False)
class LocalJob:
    """A running job as the backend tracks it."""

    job_id: str
    pid: int
    """0 while the starter has not yet reported the start."""
    pgid: int
    pidfd: int
    """-1 when the starter watches it (its exit comes over the starter's connection)."""
    child: bool
    """Our own or the starter's child (exit status readable), or adopted after a restart."""
    spec: LaunchSpec | None
    memory_limit_kib: int | None
    watched_since: float
    """Event-loop time from which the resident-set watch looks at the job."""
    copies: list[tuple[str, str]] = field(default_factory=list)
    cgroup: str | None = None
    reason: ExitReason | None = None
    detail: str = ""
    kill_deadline: float | None = None
    kill_handle: asyncio.TimerHandle | None = None
    walltime_handle: asyncio.TimerHandle | None = None
    peak_rss_kib: int = 0
    cpu_user_s: float | None = None
    cpu_sys_s: float | None = None
    pending_signal: int | None = None
    """A signal asked for before the pid was known (in-process mode never has one)."""
    staged: bool = False
    """Handed to the starter to start once the job it follows has been reaped."""
