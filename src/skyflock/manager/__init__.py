"""The manager: skyflock's server process — queue, scheduling loop and cluster backends.

    from skyflock.manager import Manager, load_settings, serve
    serve(load_settings(data_dir=".skyflock", port=8642))

`Manager` (`service.py`) is the facade the API calls; `ManagerLoop`
(`loop.py`) the asyncio cycle behind it; `settings.py` the server's settings
and TOML config; `snapshot.py` the live queue; `dispatch.py` ad -> launch;
`policy.py` exit and periodic policy; `supervise.py` the exit record that
survives a manager crash; `recovery.py` the restart; `server.py` runs it all
(with the API when it exists); `errors.py`/`results.py` what callers see.
"""

from __future__ import annotations

from skyflock.manager.errors import BadInput, Conflict, NotFound, TooLarge, UserError
from skyflock.manager.server import serve
from skyflock.manager.service import Manager
from skyflock.manager.settings import ServerSettings, load_settings

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
