"""`skyflock server [--port P] [--host H] [--data-dir D] [--config FILE]`: run the server.

Runs the manager and its API in the foreground (`manager.serve`) until
Ctrl-C or SIGTERM; running jobs keep running and are adopted by the next
start. Defaults: state in `./.skyflock/`, http://127.0.0.1:8642, the `local`
cluster of this machine's cores and memory. A config mistake prints one
message and exits 1.

Before anything starts, the server takes a lock on its data dir
(`server.lock`, held until the process ends, whatever way it ends) and
checks that its port is free: a second server on the same state would run a
second manager over the same queue and start its jobs twice, and one on a
port in use would start the manager before failing to listen. Either
mistake is one message and exit 1, with nothing started. It also takes the
database's server lock (`manager.server.hold_database`: an advisory lock on
PostgreSQL, a `flock` beside the file on SQLite): two servers with different
data dirs must not share one database either.
Neighbours: `manager.settings.load_settings`, `manager.server.serve`.
"""

from __future__ import annotations

import errno
import os
import socket
from pathlib import Path
from typing import IO, Annotated

import typer

from skyflock.cli.client import fail

LOCK_NAME = "server.lock"


def lock_data_dir(data_dir: Path) -> IO[str]:
    """Hold `data_dir/server.lock` for this process's life (the caller keeps the file).

    Exits 1 naming the other server's pid when one holds it already.
    """
    import fcntl

    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        handle = (data_dir / LOCK_NAME).open("a+")
    except OSError as exc:
        fail(f"skyflock server: cannot use the data dir {data_dir}: {exc.strerror or exc}")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.seek(0)
        holder = handle.read().strip() or "?"
        handle.close()
        fail(
            f"skyflock server: another skyflock server (pid {holder}) is using {data_dir}; "
            "stop it first, or give this one its own --data-dir"
        )
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle


def check_port(host: str, port: int) -> None:
    """Exit 1 when nothing could listen on host:port (in use, or not an address here)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        fail(f"skyflock server: --host {host}: {exc.strerror or exc}")
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                fail(
                    f"skyflock server: port {port} on {host} is in use (another skyflock "
                    "server?); choose another with --port"
                )
            fail(f"skyflock server: cannot listen on {host}:{port}: {exc.strerror or exc}")


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
    from skyflock.manager.server import hold_database

    try:
        settings = load_settings(data_dir=data_dir, config=config, port=port, host=host)
    except ConfigError as exc:
        fail(f"skyflock server: {exc}")
    lock = lock_data_dir(settings.data_dir)
    check_port(settings.host, settings.port)
    database = hold_database(settings.database_url)  # one server per database
    typer.echo(
        f"skyflock server at {settings.url} (data in {settings.data_dir}); Ctrl-C stops it",
        err=True,
    )
    try:
        serve(settings, lock_database=False)
    finally:
        if database is not None:
            database.release()
        lock.close()


def register(app: typer.Typer) -> None:
    app.command("server")(server_command)
