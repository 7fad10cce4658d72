"""`skyflock config [KEY] [--json]`: the server's effective configuration.

Prints `section.key = value` lines (condor_config_val style), only those under
KEY when given (e.g. `negotiator` or `server.port`); `--json` prints the
document. Neighbours: `api.routes_config`, `manager.settings`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Annotated, Any

import typer

from skyflock.cli.client import dump_json, fail, session


def flatten(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict) and value:
        for key, sub in value.items():
            yield from flatten(sub, f"{prefix}.{key}" if prefix else str(key))
    else:
        yield prefix, value


def config_command(
    key: Annotated[str | None, typer.Argument(help="Show only this key or section.")] = None,
    as_json: Annotated[bool, typer.Option("--json", "-json", help="Print JSON.")] = False,
) -> None:
    """Show the server's effective configuration."""
    with session() as api:
        doc = api.get("/api/config")
    rows = [
        (k, v)
        for k, v in flatten(doc)
        if key is None or k.lower() == key.lower() or k.lower().startswith(key.lower() + ".")
    ]
    if key is not None and not rows:
        fail(f"{key}: no such configuration key (try `skyflock config` for the list)")
    if as_json:
        typer.echo(dump_json(dict(rows) if key else doc))
        return
    for k, v in rows:
        typer.echo(f"{k} = {json.dumps(v)}")


def register(app: typer.Typer) -> None:
    app.command("config")(config_command)
