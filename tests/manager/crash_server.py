"""A manager process for the crash test: starts the server headless on a data dir,
optionally submits a batch, prints "ready", and exits once the queue is empty
(printing "done"). The test SIGKILLs it half-way and starts it again.

Usage: python crash_server.py DATA_DIR WORK_DIR [JOBS]
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from skyflock.manager import Manager
from skyflock.manager.settings import settings_from_mapping

CONFIG = {
    "negotiator": {"interval": 0.5},
    "server": {"periodic_interval": 5},
    "clusters": {"local": {"cpus": 2, "memory": 4096}},
}

SUBMIT = """\
executable = /bin/sh
arguments = "-c 'echo run >> out/$(Process).txt; sleep 0.2'"
queue {jobs}
"""


async def main(data_dir: str, work_dir: str, jobs: int) -> None:
    manager = Manager(settings_from_mapping(CONFIG, data_dir=data_dir, env={}))
    await manager.start()
    if jobs:
        (Path(work_dir) / "out").mkdir(exist_ok=True)
        await manager.submit(
            SUBMIT.format(jobs=jobs), filename="crash.sub", base_dir=work_dir, owner="alice"
        )
    report = manager.recovery
    if report is not None:
        print(
            f"recovered adopted={len(report.adopted)} finished={len(report.finished)} "
            f"requeued={len(report.requeued)}",
            flush=True,
        )
    print("ready", flush=True)
    while len(manager.loop.live):
        await asyncio.sleep(0.05)
    print("done", flush=True)
    await manager.stop()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 0))
