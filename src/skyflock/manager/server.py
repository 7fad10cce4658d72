"""Running the server: the API under uvicorn when the API package exists, else the loop alone.

`serve(settings)` is what `skyflock server` calls (and `python -m
skyflock.manager`). It runs until SIGINT or SIGTERM; running jobs are left
running for the next start to adopt. Without the API (`skyflock.api.app`
not importable) the manager runs headless, which the crash test and the
throughput bench also accept.

On PostgreSQL it first takes the database's server lock
(`store.lock_database`), held until it returns: a second server on the same
database, whatever its data dir, exits 1 with one message naming the
database, before anything starts (the data-dir lock, `server.lock`, only
keeps servers off one data dir).

Neighbours: `manager.service.Manager` (what runs), `api.app.create_app` (the
HTTP face, optional), `cli` (its `server` command).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import signal
import sys
from typing import Any

from skyflock.manager.service import Manager
from skyflock.manager.settings import ServerSettings
from skyflock.store import DatabaseInUse, DatabaseLock, StoreConfigError
from skyflock.store import lock_database as _lock_database

log = logging.getLogger(__name__)


def _app_factory() -> Any | None:
    try:
        module = importlib.import_module("skyflock.api.app")
    except ImportError:
        return None
    return getattr(module, "create_app", None)


def serve(settings: ServerSettings, *, lock_database: bool = True) -> None:
    """Run the server in the foreground until interrupted.

    `lock_database=False`: the caller holds the database's server lock
    already (`hold_database`), as `skyflock server` does before it prints
    where the server is."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    # Alembic narrates every plugin and revision at INFO; a start-up says where the
    # server is, not how the schema got there (a failed migration still logs an error).
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # The store writer thread runs Python (SQLAlchemy) while the event loop spawns
    # and reaps jobs; a short switch interval gives the loop the interpreter back
    # soon after each system call instead of up to 5 ms later.
    sys.setswitchinterval(min(sys.getswitchinterval(), 0.0005))
    held = hold_database(settings.database_url) if lock_database else None
    try:
        manager = Manager(settings)
        factory = _app_factory()
        if factory is not None:
            import uvicorn

            app = factory(manager)
            uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning")
            return
        asyncio.run(_headless(manager))
    finally:
        if held is not None:
            held.release()


def hold_database(url: str) -> DatabaseLock | None:
    """The server lock of `url`'s database (None for an in-memory one), or exit 1 saying why not."""
    try:
        return _lock_database(url)
    except (DatabaseInUse, StoreConfigError) as exc:
        print(f"skyflock server: {exc}", file=sys.stderr)
        raise SystemExit(1) from None


async def _headless(manager: Manager) -> None:
    await manager.start()
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, done.set)
    log.info("skyflock manager running (no API) with data in %s", manager.settings.data_dir)
    await done.wait()
    await manager.stop()
