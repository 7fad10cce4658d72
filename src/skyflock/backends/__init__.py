"""Execution backends: the clusters that run the manager's jobs.

`base` is the port every backend implements (`ExecutionBackend`) and the values
it speaks; `local` runs jobs as processes of this machine. The manager imports
from here; a backend imports only `base` and the core model, never the store.
"""

from skyflock.backends.base import (
    BackendEvent,
    CancelReason,
    ExecutionBackend,
    ExitReason,
    JobExited,
    JobLost,
    JobStarted,
    JobStartFailed,
    LaunchSpec,
    LogPaths,
    RunningRecord,
    SlotOffer,
    StartStage,
    Usage,
)

__all__ = [
    "BackendEvent",
    "CancelReason",
    "ExecutionBackend",
    "ExitReason",
    "JobExited",
    "JobLost",
    "JobStartFailed",
    "JobStarted",
    "LaunchSpec",
    "LogPaths",
    "RunningRecord",
    "SlotOffer",
    "StartStage",
    "Usage",
]
