"""`skyflock analyze ID [--json]`: why a job is not running (condor_q -better-analyze).

Prints the text of the last negotiation cycle's explanation for the job: how
many slots its requirements rule out and by which clause, fair share, quotas.
`--json` prints the explanation's data as well. Neighbours: `api.routes_analyze`;
`skyflock q -analyze` shows the same text for several jobs.
"""

from __future__ import annotations

from typing import Annotated

import typer

from skyflock.cli.client import dump_json, fail, session
from skyflock.cli.selectors import JOB_ID


def analyze_command(
    job: Annotated[str, typer.Argument(help="The job id, CLUSTER.PROC.", show_default=False)],
    as_json: Annotated[
        bool, typer.Option("--json", "-json", help="Print the analysis as JSON.")
    ] = False,
) -> None:
    """Explain why a job is idle, or where it runs."""
    if not JOB_ID.match(job):
        fail(f"{job!r}: expected a job id CLUSTER.PROC, like 12.0")
    with session() as api:
        answer = api.get(f"/api/jobs/{job}/analyze")
    if as_json:
        typer.echo(dump_json(answer))
    else:
        typer.echo(answer["text"].rstrip("\n"))


def register(app: typer.Typer) -> None:
    app.command("analyze")(analyze_command)
