"""A job's exit status that outlives the manager: the supervising shell and its record.

The local backend watches its jobs from the manager's process; a job that ends
while the manager is down (killed, upgraded) is reaped by init and its exit
status is lost, so after a restart the manager could only run it again, and a
job must never run twice. Each launch therefore runs the job's own argv (no
shell interpretation of it) under a small POSIX `sh` that waits for the job
and writes its exit status to `<data_dir>/run/<job_id>.<run>.exit`, `run`
being the job's start count. After a restart `recovery` reads that record for
jobs whose process is gone; the loop removes it once the job's end is
committed to the store.

The shell keeps the job's standard input, ignores nothing the job would
inherit, passes SIGTERM to the job (which gets it from the process-group
signal anyway) and waits again, so `job_max_vacate_time` still applies.

Exit codes above 128: a POSIX shell's `$?` is 128 + N both for a job that
exits with 128 + N and for one killed by signal N, and a cheap exact wrapper
does not exist (only the job's parent can read its real status, and the
parent that outlives the manager is this shell). So the shell records and
exits with `$?`, and a status from this wrapper is always read as an exit
code (`ExitBySignal` false): a job that exits with 130 is reported as exit
code 130 (the common case: scripts that pass on a child's status), and a job
killed by a signal sent to it alone is reported as exit code 128 + N (a
documented limitation, `docs/execution.md`). Signals the backend sends to the
whole process group are still exact: the memory watch's SIGKILL kills this
shell too, so the backend sees the signal; and an end the backend caused
(`reason` memory or walltime) reads a status above 128 as that signal.

Neighbours: `manager.dispatch` builds the spec this wraps; `manager.loop`
and `manager.recovery` read the record.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Final

from skyflock.backends.base import LaunchSpec

SHELL: Final = "/bin/sh"

_SCRIPT: Final = (
    'f=$1; shift; exec 3<&0; "$@" <&3 3<&- & c=$!; exec 3<&-; '
    "trap : TERM INT HUP; "
    'while :; do wait "$c"; r=$?; kill -0 "$c" 2>/dev/null || break; done; '
    'echo "$r" > "$f"; '
    'exit "$r"'
)


def exit_record_path(run_dir: Path, job_id: str, run: int) -> Path:
    """Where run number `run` (1 for the first start) of `job_id` records its exit."""
    return run_dir / f"{job_id}.{run}.exit"


def supervised(spec: LaunchSpec, record: Path) -> LaunchSpec:
    """The same launch with its argv run under the recording shell."""
    return dataclasses.replace(
        spec, argv=(SHELL, "-c", _SCRIPT, "skyflock-job", str(record), *spec.argv)
    )


def unsupervised_argv(argv: tuple[str, ...]) -> tuple[str, ...]:
    """The job's own argv of a (possibly) supervised launch."""
    if len(argv) >= 5 and argv[0] == SHELL and argv[2] == _SCRIPT:
        return argv[5:]
    return argv
