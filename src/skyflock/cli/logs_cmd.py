"""`skyflock logs ID [-f] [--stderr | --events]`: a job's central logs.

Without `-f` it prints the log as the server has it now; with `-f` it follows
the server's Server-Sent Events stream line by line and exits when the job
has finished, or with exit 1 and the hold reason when the job is put on hold
(or on Ctrl-C). The logs live under the server's data dir
whichever cluster ran the job. Neighbours: `api.routes_logs`, `cli.client`.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from skyflock.cli.client import fail, session
from skyflock.cli.selectors import JOB_ID


def logs_command(
    job: Annotated[str, typer.Argument(help="The job id, CLUSTER.PROC.", show_default=False)],
    follow: Annotated[
        bool, typer.Option("-f", "--follow", help="Stream until the job finishes.")
    ] = False,
    stderr: Annotated[
        bool, typer.Option("--stderr", "-e", help="The job's stderr instead of stdout.")
    ] = False,
    events: Annotated[
        bool, typer.Option("--events", help="The job's event log instead of stdout.")
    ] = False,
) -> None:
    """Print a job's stdout (or stderr, or event log); -f follows it."""
    if not JOB_ID.match(job):
        fail(f"{job!r}: expected a job id CLUSTER.PROC, like 12.0")
    if stderr and events:
        fail("choose one of --stderr and --events", 2)
    stream = "stderr" if stderr else "events" if events else "stdout"
    with session() as api:
        path = f"/api/jobs/{job}/logs"
        if not follow:
            text = api.get(path, params={"stream": stream})
            sys.stdout.write(text)
            return
        try:
            for kind, data in api.events(path, params={"stream": stream, "follow": "true"}):
                if kind == "end":
                    break
                if kind == "held":
                    sys.stdout.flush()
                    fail(f"job {job} is held: {data} (`skyflock release {job}` lets it run again)")
                sys.stdout.write(data + "\n")
                sys.stdout.flush()
        except KeyboardInterrupt:
            raise typer.Exit(130) from None


def register(app: typer.Typer) -> None:
    app.command("logs")(logs_command)
