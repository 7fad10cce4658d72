"""`skyflock server [--port P] [--host H] [--data-dir D] [--config FILE]`: run the server.

Runs the manager and its API in the foreground (`manager.serve`) until
Ctrl-C or SIGTERM; running jobs keep running and are adopted by the next
start. Defaults: state in `./.skyflock/`, http://127.0.0.1:8642, the `local`
cluster of this machine's cores and memory. A config mistake prints one
message and exits 1. Neighbours: `manager.settings.load_settings`,
`manager.server.serve`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from skyflock.cli.client import fail


def server_command(
    port: Annotated[
        int | None, typer.Option("--port", "-p", help="TCP port (default 8642).")
    ] = None,
    host: Annotated[
        str | None, typer.Option("--host", help="Address to listen on (default 127.0.0.1).")
    ] = None,
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", "-d", help="State directory (default ./.skyflock).")
    ] = None,
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="A TOML config file.")
    ] = None,
) -> None:
    """Run the skyflock server (manager, local cluster and API) in the foreground."""
    from skyflock.core.config import ConfigError
    from skyflock.manager import load_settings, serve

    try:
        settings = load_settings(data_dir=data_dir, config=config, port=port, host=host)
    except ConfigError as exc:
        fail(f"skyflock server: {exc}")
    typer.echo(
        f"skyflock server at {settings.url} (data in {settings.data_dir}); Ctrl-C stops it",
        err=True,
    )
    serve(settings)


def register(app: typer.Typer) -> None:
    app.command("server")(server_command)
