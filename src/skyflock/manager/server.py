"""Running the server: the API under uvicorn when the API package exists, else the loop alone.

`serve(settings)` is what `skyflock server` calls (and `python -m
skyflock.manager`). It runs until SIGINT or SIGTERM; running jobs are left
running for the next start to adopt. Without the API (`skyflock.api.app`
not importable) the manager runs headless, which the crash test and the
throughput bench also accept.

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

log = logging.getLogger(__name__)


def _app_factory() -> Any | None:
    try:
        module = importlib.import_module("skyflock.api.app")
    except ImportError:
        return None
    return getattr(module, "create_app", None)


def serve(settings: ServerSettings) -> None:
    """Run the server in the foreground until interrupted."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    # Alembic narrates every plugin and revision at INFO; a start-up says where the
    # server is, not how the schema got there (a failed migration still logs an error).
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # The store writer thread runs Python (SQLAlchemy) while the event loop spawns
    # and reaps jobs; a short switch interval gives the loop the interpreter back
    # soon after each system call instead of up to 5 ms later.
    sys.setswitchinterval(min(sys.getswitchinterval(), 0.0005))
    manager = Manager(settings)
    factory = _app_factory()
    if factory is not None:
        import uvicorn

        app = factory(manager)
        uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning")
        return
    asyncio.run(_headless(manager))


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
