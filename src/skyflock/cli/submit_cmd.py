"""`skyflock submit FILE [--dry-run] [--json]`: queue the jobs of an HTCondor
submit description.

It prints condor_submit's `N job(s) submitted to cluster C.`, or with
`--json` the server's answer (`cluster_id`, `procs`, `count`, `warnings`) for
scripts. With `--dry-run` it prints the job ads without a server: a JSON list
with HTCondor's attribute names under `--json`, else a short readable summary.
Warnings (unknown commands...) go to stderr; a mistake in the file prints one
`file:line: message` and exits 1 without a traceback. `_send_to_server` then
posts the file to the server, which parses it again to assign the cluster id.
Neighbours: `skyflock.submit` does all the parsing; this module only reads the
process's environment, user name and working directory and prints.
"""

from __future__ import annotations

import getpass
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from skyflock.classad import ClassAd

SUMMARY_ROWS = 20


def _owner() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return os.environ.get("USER") or None


def _send_to_server(file: Path) -> dict[str, Any]:
    """Queue the file's jobs on the server; returns its answer.

    The server reads the description itself so that `$(Cluster)` expands to the
    cluster id it assigns; the file was already checked here, so its mistakes
    never reach the server.
    """
    from skyflock.cli.client import session

    body: dict[str, object] = {
        "submit": file.read_text(encoding="utf-8"),
        "filename": str(file),
        "base_dir": str(file.resolve().parent),
        "owner": _owner(),
        "environ": dict(os.environ),
    }
    with session() as api:
        answer: dict[str, Any] = api.post("/api/jobs", body)
    return answer


def jobs_json(jobs: list[ClassAd]) -> str:
    """The ads as one JSON list (each ad in HTCondor's JSON form)."""
    if not jobs:
        return "[]"
    return "[\n" + ",\n".join(ad.format("json") for ad in jobs) + "\n]"


def summary(jobs: list[ClassAd], source: str) -> str:
    """A few lines a person can read: one per job (up to a limit) and the
    attributes every job shares."""
    if not jobs:
        return f"{source}: no jobs queued"
    clusters = sorted({int(str(ad.eval("ClusterId"))) for ad in jobs})
    lines = [
        f"{source}: {len(jobs)} job{'s' if len(jobs) != 1 else ''} in "
        f"cluster{'s' if len(clusters) != 1 else ''} {', '.join(map(str, clusters))}"
    ]
    for ad in jobs[:SUMMARY_ROWS]:
        args = ad.get("Arguments", ad.get("Args", ""))
        command = " ".join(str(p) for p in (ad.get("Cmd", "<image entrypoint>"), args) if p)
        lines.append(
            f"  {ad.get('ClusterId')}.{ad.get('ProcId')}  {command}  "
            f"cpus={_show(ad, 'RequestCpus')} memory={_show(ad, 'RequestMemory')}MiB "
            f"disk={_show(ad, 'RequestDisk')}KiB"
        )
    if len(jobs) > SUMMARY_ROWS:
        lines.append(f"  ... and {len(jobs) - SUMMARY_ROWS} more")
    first = jobs[0]
    for name in ("Owner", "AccountingGroup", "ContainerImage", "Requirements"):
        if name in first:
            lines.append(f"{name}: {_show(first, name)}")
    return "\n".join(lines)


def _show(ad: ClassAd, name: str) -> str:
    expr = ad.lookup(name)
    if expr is None:
        return "-"
    value = ad.eval(name)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return str(value)
    return str(expr)


def submit_command(
    file: Annotated[Path, typer.Argument(help="The submit description file.", show_default=False)],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the job ads instead of queueing them.")
    ] = False,
    as_json: Annotated[
        bool,
        typer.Option("--json", help="Print the server's answer as JSON (with --dry-run: the ads)."),
    ] = False,
) -> None:
    """Queue the jobs an HTCondor submit description describes."""
    from skyflock.submit import DiskFiles, SubmitError, parse_submit_with_warnings

    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        typer.echo(f"{file}: cannot read: {reason}", err=True)
        raise typer.Exit(1) from None
    base_dir = str(file.resolve().parent)
    try:
        result = parse_submit_with_warnings(
            text,
            base_dir=base_dir,
            filename=str(file),
            environ=dict(os.environ),
            owner=_owner(),
            files=DiskFiles(),
        )
    except SubmitError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    for warning in result.warnings:
        typer.echo(f"warning: {warning}", err=True)
    if not dry_run:
        answer = _send_to_server(file)
        if as_json:
            from skyflock.cli.client import dump_json

            typer.echo(dump_json(answer))
        else:
            typer.echo(f"{answer['count']} job(s) submitted to cluster {answer['cluster_id']}.")
        return
    if as_json:
        sys.stdout.write(jobs_json(result.jobs) + "\n")
    else:
        typer.echo(summary(result.jobs, str(file)))


def register(app: typer.Typer) -> None:
    app.command("submit")(submit_command)
