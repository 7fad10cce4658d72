"""How fast the local backend starts and reaps `/bin/true` jobs, next to `xargs -P2`.

Keeps `--concurrency` jobs (default: the slot's cores) in flight through the
real `LocalBackend` (central log files, memory limit, pidfd watch, wait4) and
times N of them; in the same run it times `xargs -P<concurrency>` on the same
command, the floor any batch system is measured against. Prints jobs/s, the
ratio, and the backend's own CPU time per job (the budget is well under 1 ms).

    .venv/bin/python bench/local_backend_bench.py --jobs 3000 [--data-dir-in /dev/shm]

Creating each job's log directory and two files is the part that depends on
the file system: on an ext4 without a journal (check that /proc/fs/jbd2 is
empty) every new inode scans the recently deleted ones, so right after a test
run has deleted many files it costs milliseconds instead of 0.1 ms;
`--data-dir-in /dev/shm` shows the cost without it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import tempfile
import time

from skyflock.backends.base import JobExited, JobStarted, LaunchSpec
from skyflock.backends.local import LocalBackend


async def run_backend(
    data_dir: str, jobs: int, concurrency: int, memory_mib: int | None
) -> tuple[float, float, int]:
    """(wall seconds, backend CPU seconds, jobs that exited 0) for `jobs` jobs."""
    backend = LocalBackend(data_dir)
    env = {"PATH": "/usr/bin:/bin"}
    specs = [
        LaunchSpec(f"1.{i}", ("/bin/true",), data_dir, env, memory_limit_mib=memory_mib)
        for i in range(jobs)
    ]
    ok = 0
    next_job = 0
    in_flight = 0
    wall0, cpu0 = time.perf_counter(), time.process_time()
    while next_job < jobs and in_flight < concurrency:
        backend.start_nowait(specs[next_job])
        next_job += 1
        in_flight += 1
    while in_flight:
        for event in await backend.events():
            if isinstance(event, JobStarted):
                continue
            in_flight -= 1
            if isinstance(event, JobExited) and event.exit_code == 0:
                ok += 1
            if next_job < jobs:
                backend.start_nowait(specs[next_job])
                next_job += 1
                in_flight += 1
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    await backend.close()
    return wall, cpu, ok


def run_xargs(jobs: int, concurrency: int) -> float:
    numbers = "\n".join(map(str, range(jobs))) + "\n"
    t0 = time.perf_counter()
    subprocess.run(
        ["xargs", f"-P{concurrency}", "-n1", "/bin/true"],
        input=numbers.encode(),
        check=True,
    )
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=0, help="default: the slot's cpus")
    parser.add_argument(
        "--memory-limit",
        type=int,
        default=128,
        help="MiB per job, as a dynamic slot would give (0: none)",
    )
    parser.add_argument(
        "--data-dir-in",
        default=".",
        help="where to make the scratch data dir (default: here, as `make run` keeps"
        " ./.skyflock; the file system's cost of creating log files shows in the figure)",
    )
    args = parser.parse_args()
    data_dir = tempfile.mkdtemp(prefix=".skyflock-bench-", dir=args.data_dir_in)
    try:
        concurrency = args.concurrency or LocalBackend(data_dir).capacity()[0].cpus
        wall, cpu, ok = asyncio.run(
            run_backend(data_dir, args.jobs, concurrency, args.memory_limit or None)
        )
        logs = len(os.listdir(os.path.join(data_dir, "logs")))
        xargs = run_xargs(args.jobs, concurrency)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    ours, floor = args.jobs / wall, args.jobs / xargs
    print(
        f"jobs: {args.jobs}, concurrency: {concurrency}, memory limit: {args.memory_limit} MiB,"
        f" logs in {data_dir}"
    )
    print(f"local backend : {ours:7.0f} jobs/s  ({ok} exited 0, {logs} central log dirs)")
    print(f"xargs -P{concurrency}     : {floor:7.0f} jobs/s")
    print(f"ratio         : {ours / floor:7.2f}")
    print(f"backend CPU   : {cpu / args.jobs * 1e6:7.0f} µs per job (start + reap + logs)")
    if ok != args.jobs or logs != args.jobs:
        raise SystemExit("some jobs failed or left no logs")


if __name__ == "__main__":
    main()
