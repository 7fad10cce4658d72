"""The job's own policy: what happens when it exits, and its periodic expressions.

When a job ends, HTCondor decides in this order (and so do we):
1. a memory or walltime overrun holds it (HoldReasonCode 34 JobOutOfResources,
   46 JobDurationExceeded / 47 JobExecuteExceeded);
2. `OnExitHold` true holds it (code 3 JobPolicy, `OnExitHoldReason`/`SubCode`);
3. `OnExitRemove` false puts it back to Idle to run again;
4. a failure (a signal, or an exit code other than `JobSuccessExitCode`, 0 by
   default) with `JobMaxRetries` left (`NumJobCompletions <= JobMaxRetries`)
   puts it back to Idle; otherwise it completes.

`periodic_hold`/`periodic_release`/`periodic_remove` (`PeriodicHold`...) are
evaluated for every queued job every `periodic_interval` seconds with
`CurrentTime` set to now: a true `PeriodicHold` holds an Idle or Running job
with code 3, `PeriodicRelease` releases a Held one, `PeriodicRemove` removes
any. A policy expression that evaluates to UNDEFINED does nothing; one that
evaluates to an error holds the job with code 5 (JobPolicyUndefined), as
HTCondor does for a broken expression.

Pure functions over ads and values; the loop applies the outcomes to the store.
Neighbours: `manager.loop` (exit handling and the periodic sweep).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import Final, Literal

from skyflock.classad import UNDEFINED, ClassAd


class HoldCode(IntEnum):
    """HTCondor's HoldReasonCode values skyflock uses."""

    USER_REQUEST = 1
    JOB_POLICY = 3
    JOB_POLICY_UNDEFINED = 5
    FAILED_TO_CREATE_PROCESS = 6
    UNABLE_TO_OPEN_OUTPUT = 7
    UNABLE_TO_OPEN_INPUT = 8
    IWD_ERROR = 14
    SUBMITTED_ON_HOLD = 15
    JOB_OUT_OF_RESOURCES = 34
    INVALID_DOCKER_IMAGE = 35
    JOB_DURATION_EXCEEDED = 46
    JOB_EXECUTE_EXCEEDED = 47


START_FAILURE_CODES: dict[str, HoldCode] = {
    "cwd": HoldCode.IWD_ERROR,
    "executable": HoldCode.FAILED_TO_CREATE_PROCESS,
    "stdin": HoldCode.UNABLE_TO_OPEN_INPUT,
    "stdout": HoldCode.UNABLE_TO_OPEN_OUTPUT,
    "stderr": HoldCode.UNABLE_TO_OPEN_OUTPUT,
    "container": HoldCode.INVALID_DOCKER_IMAGE,
}
"""`JobStartFailed.stage` -> the hold code HTCondor would give."""


@dataclass(frozen=True, slots=True)
class Complete:
    exit_code: int | None
    signal: int | None = None
    kind: Literal["complete"] = "complete"


@dataclass(frozen=True, slots=True)
class Requeue:
    """Back to Idle to run again; `retry` says it counts as a retry of a failure."""

    why: str
    retry: bool = True
    kind: Literal["requeue"] = "requeue"


@dataclass(frozen=True, slots=True)
class Hold:
    code: int
    reason: str
    subcode: int = 0
    kind: Literal["hold"] = "hold"


@dataclass(frozen=True, slots=True)
class Remove:
    reason: str
    kind: Literal["remove"] = "remove"


@dataclass(frozen=True, slots=True)
class Release:
    reason: str
    kind: Literal["release"] = "release"


Outcome = Complete | Requeue | Hold | Remove

_EXIT_POLICY_ATTRS = ("OnExitHold", "OnExitRemove", "JobMaxRetries")


def _truth(value: object) -> bool | None:
    """A policy value as true/false; None for UNDEFINED; raises for ERROR/odd types."""
    if value is UNDEFINED:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    raise ValueError(value)


def _text(ad: ClassAd, name: str) -> str | None:
    value = ad.eval(name)
    return value if isinstance(value, str) and value else None


def _int(ad: ClassAd, name: str) -> int | None:
    value = ad.eval(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value)


def success_exit_code(ad: ClassAd) -> int:
    for name in ("JobSuccessExitCode", "SuccessExitCode"):
        code = _int(ad, name)
        if code is not None:
            return code
    return 0


def _policy_hold(ad: ClassAd, name: str, default_reason: str) -> Hold:
    reason = _text(ad, f"{name}Reason") or default_reason
    subcode = _int(ad, f"{name}SubCode") or 0
    return Hold(int(HoldCode.JOB_POLICY), reason, subcode)


def _broken(name: str) -> Hold:
    return Hold(
        int(HoldCode.JOB_POLICY_UNDEFINED),
        f"The job attribute {name} expression evaluated to an error",
    )


def exit_outcome(
    ad: ClassAd,
    *,
    exit_code: int | None,
    signal: int | None,
    reason: str | None,
    detail: str = "",
) -> Outcome:
    """What to do with a job that ended on its own or by a limit.

    `ad` must already carry `ExitCode`/`ExitBySignal`/`ExitSignal`,
    `NumJobCompletions` and `NumJobStarts` of this run (the caller sets them).
    Cancellations ("removed", "vacated", "held") are not decided here.
    """
    if reason == "memory":
        text = "Job exceeded its memory limit"
        return Hold(int(HoldCode.JOB_OUT_OF_RESOURCES), f"{text}: {detail}" if detail else text)
    if reason == "walltime":
        execute = _int(ad, "AllowedExecuteDuration")
        job = _int(ad, "AllowedJobDuration")
        if job is not None and job > 0 and (execute is None or execute <= 0 or job < execute):
            code, limit = HoldCode.JOB_DURATION_EXCEEDED, job
            label = "allowed job duration"
        else:
            code, limit = HoldCode.JOB_EXECUTE_EXCEEDED, execute or 0
            label = "allowed execute duration"
        return Hold(int(code), f"The job exceeded {label} of {limit} seconds")
    if not any(name in ad for name in _EXIT_POLICY_ATTRS):
        return Complete(exit_code, signal)
    try:
        if "OnExitHold" in ad and _truth(ad.eval("OnExitHold")):
            return _policy_hold(ad, "OnExitHold", "The on_exit_hold expression evaluated to TRUE")
    except ValueError:
        return _broken("OnExitHold")
    try:
        if "OnExitRemove" in ad and _truth(ad.eval("OnExitRemove")) is False:
            return Requeue("the on_exit_remove expression evaluated to FALSE", retry=False)
    except ValueError:
        return _broken("OnExitRemove")
    failed = signal is not None or (exit_code is not None and exit_code != success_exit_code(ad))
    retries = _int(ad, "JobMaxRetries")
    if failed and retries is not None:
        done = _int(ad, "NumJobCompletions") or 0
        if done <= retries:
            what = f"signal {signal}" if signal is not None else f"exit code {exit_code}"
            return Requeue(f"retry {done} of {retries} after {what}")
    return Complete(exit_code, signal)


PeriodicAction = Hold | Release | Remove


def periodic_action(ad: ClassAd, status: int) -> PeriodicAction | None:
    """The periodic expression that fires for a job in `status` (1..5), if any.

    The ad must carry `CurrentTime` (and the store's managed attributes).
    HTCondor's order: remove first, then hold (Idle/Running), then release (Held).
    """
    try:
        if "PeriodicRemove" in ad and _truth(ad.eval("PeriodicRemove")):
            reason = _text(ad, "PeriodicRemoveReason") or (
                "The job attribute PeriodicRemove expression evaluated to TRUE"
            )
            return Remove(reason)
    except ValueError:
        return None if status == 5 else _broken("PeriodicRemove")
    if status in (1, 2):
        try:
            if "PeriodicHold" in ad and _truth(ad.eval("PeriodicHold")):
                return _policy_hold(
                    ad,
                    "PeriodicHold",
                    "The job attribute PeriodicHold expression evaluated to TRUE",
                )
        except ValueError:
            return _broken("PeriodicHold")
    if status == 5:
        try:
            if "PeriodicRelease" in ad and _truth(ad.eval("PeriodicRelease")):
                return Release("The job attribute PeriodicRelease expression evaluated to TRUE")
        except ValueError:
            return None
    return None


PERIODIC_ATTRIBUTES: Final = ("PeriodicHold", "PeriodicRelease", "PeriodicRemove")


def has_periodic(ad: ClassAd) -> bool:
    return any(name in ad for name in PERIODIC_ATTRIBUTES)


def has_periodic_attributes(has: Callable[[str], bool]) -> bool:
    """`has_periodic` through a lookup that need not build the ad (`LiveJob.has_attribute`)."""
    return any(has(name) for name in PERIODIC_ATTRIBUTES)
