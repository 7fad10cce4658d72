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
signal anyway) and waits again, so `job_max_vacate_time` still applies; a job
killed by a signal makes the shell kill itself with the same signal, so the
backend sees the signal as before. One cost: a job that exits with a code
above 128 is reported as killed by signal (code - 128), as shells report it.

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
    'if [ "$r" -gt 128 ]; then trap - TERM INT HUP; kill -s "$((r - 128))" $$; fi; '
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
