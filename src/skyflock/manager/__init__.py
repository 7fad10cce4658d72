"""The manager: skyflock's server process — queue, scheduling loop and cluster backends.

    from skyflock.manager import Manager, load_settings, serve
    serve(load_settings(data_dir=".skyflock", port=8642))

`Manager` (`service.py`) is the facade the API calls; `ManagerLoop`
(`loop.py`) the asyncio cycle behind it; `settings.py` the server's settings
and TOML config; `snapshot.py` the live queue; `dispatch.py` ad -> launch;
`policy.py` exit and periodic policy; `recovery.py` the restart (the
local jobs' exits survive a manager crash in `backends.local_starter`); `server.py` runs it all
(with the API when it exists); `errors.py`/`results.py` what callers see.

The names below load on first use (PEP 562), so `import
skyflock.manager.settings` (the CLI reads its defaults there) does not pull in
SQLAlchemy, the loop or the backends.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover - typing only
    from skyflock.manager.errors import BadInput, Conflict, NotFound, TooLarge, UserError
    from skyflock.manager.server import serve
    from skyflock.manager.service import Manager
    from skyflock.manager.settings import ServerSettings, load_settings

_WHERE = {
    "BadInput": "errors",
    "Conflict": "errors",
    "NotFound": "errors",
    "TooLarge": "errors",
    "UserError": "errors",
    "serve": "server",
    "Manager": "service",
    "ServerSettings": "settings",
    "load_settings": "settings",
}

__all__ = [
    "BadInput",
    "Conflict",
    "Manager",
    "NotFound",
    "ServerSettings",
    "TooLarge",
    "UserError",
    "load_settings",
    "serve",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_WHERE])
