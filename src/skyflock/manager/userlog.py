"""The job's own event log (`log = file` in the submit file, the `UserLog` attribute).

HTCondor users read this file (and tools such as `condor_wait` or DAG
managers follow it), so it is written in HTCondor's classic text form: one
event per entry, a header line ``NNN (CCC.PPP.SSS) MM/DD HH:MM:SS text``,
indented detail lines, and a line of three dots. The events written are
000 submitted, 001 executing, 004 evicted (also a run that ended and was
requeued), 005 terminated, 009 aborted, 012 held and 013 released. A
relative `UserLog` is taken relative to the job's `Iwd`.

Writing is write-behind: the loop queues `UserLogEntry`s as things happen
(`PendingWrites.user_log`), and the flush pass, after its store transaction
commits, appends them with one open per file (`write_entries`); entries of a
transition the store refused are dropped (`committed_entries`). A file that
cannot be written is logged and skipped: it never stops the queue.

Neighbours: `manager.flushing` (the pass that writes), `manager.reconciling`
and `manager.actions` (what queues the entries), `manager.service` (submit).
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from skyflock.classad import ClassAd

log = logging.getLogger(__name__)

SUBMIT: Final = 0
EXECUTE: Final = 1
EVICTED: Final = 4
TERMINATED: Final = 5
ABORTED: Final = 9
HELD: Final = 12
RELEASED: Final = 13


@dataclass(frozen=True, slots=True)
class UserLogEntry:
    """One event for one job's log file.

    `action` names the store transition it depends on ("start", "complete",
    "retry", "hold", "evict"); None when that transition is already committed.
    """

    path: str
    text: str
    job_id: str
    action: str | None = None


def user_log_path(ad: ClassAd) -> str | None:
    """The file `ad`'s events go to (relative `UserLog` under `Iwd`), or None."""
    name = ad.eval("UserLog")
    if not isinstance(name, str) or not name:
        return None
    iwd = ad.eval("Iwd")
    if isinstance(iwd, str) and iwd:
        return os.path.join(iwd, name)
    return name


def job_tag(job_id: str) -> str:
    cluster, _, proc = job_id.partition(".")
    return f"({int(cluster):03d}.{int(proc or 0):03d}.000)"


def format_event(
    code: int,
    job_id: str,
    when: float,
    headline: str,
    details: Sequence[str] = (),
) -> str:
    """One event in the classic form (local time, as HTCondor writes it)."""
    stamp = time.strftime("%m/%d %H:%M:%S", time.localtime(when))
    lines = [f"{code:03d} {job_tag(job_id)} {stamp} {headline}"]
    lines.extend(f"\t{d}" for d in details)
    lines.append("...")
    return "\n".join(lines) + "\n"


_HOST: Final = socket.gethostname()


def submitted(job_id: str, when: float) -> str:
    return format_event(SUBMIT, job_id, when, f"Job submitted from host: <{_HOST}>")


def executing(job_id: str, when: float, slot: str | None) -> str:
    return format_event(EXECUTE, job_id, when, f"Job executing on host: <{slot or _HOST}>")


def termination_line(exit_code: int | None, signal: int | None) -> str:
    if signal is not None:
        return f"(0) Abnormal termination (signal {signal})"
    return f"(1) Normal termination (return value {exit_code or 0})"


def terminated(job_id: str, when: float, exit_code: int | None, signal: int | None) -> str:
    return format_event(
        TERMINATED, job_id, when, "Job terminated.", [termination_line(exit_code, signal)]
    )


def requeued(job_id: str, when: float, exit_code: int | None, signal: int | None) -> str:
    """A run that ended on its own and goes back to Idle (max_retries, on_exit_remove)."""
    return format_event(
        EVICTED,
        job_id,
        when,
        "Job was evicted.",
        ["(0) Job terminated and was requeued", "\t" + termination_line(exit_code, signal)],
    )


def evicted(job_id: str, when: float, reason: str) -> str:
    return format_event(
        EVICTED, job_id, when, "Job was evicted.", ["(0) Job was not checkpointed.", reason]
    )


def aborted(job_id: str, when: float, reason: str) -> str:
    return format_event(ABORTED, job_id, when, "Job was aborted.", [reason or "via rm"])


def held(job_id: str, when: float, reason: str, code: int, subcode: int) -> str:
    return format_event(
        HELD, job_id, when, "Job was held.", [reason, f"Code {code} Subcode {subcode}"]
    )


def released(job_id: str, when: float, reason: str) -> str:
    return format_event(RELEASED, job_id, when, "Job was released.", [reason])


def committed_entries(
    entries: Iterable[UserLogEntry], moved: Callable[[str], Sequence[str]]
) -> list[UserLogEntry]:
    """The entries whose transition the store made (`moved(action)` names its jobs)."""
    cache: dict[str, frozenset[str]] = {}
    out = []
    for entry in entries:
        if entry.action is not None:
            ids = cache.get(entry.action)
            if ids is None:
                ids = cache[entry.action] = frozenset(moved(entry.action))
            if entry.job_id not in ids:
                continue
        out.append(entry)
    return out


def write_entries(entries: Iterable[UserLogEntry]) -> int:
    """Append the entries, in order, with one open per file; returns files written."""
    by_path: dict[str, list[str]] = {}
    for entry in entries:
        by_path.setdefault(entry.path, []).append(entry.text)
    written = 0
    for path, texts in by_path.items():
        try:
            with open(path, "a", encoding="utf-8") as f:
                f.write("".join(texts))
            written += 1
        except OSError as exc:
            log.warning("cannot write the job event log %s: %s", path, exc)
    return written
