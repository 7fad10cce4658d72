"""End-to-end throughput of skyflock on this machine, against its peers, in one run.

    .venv/bin/python bench/throughput_bench.py --jobs 5000

1. skyflock: starts a real server (`python -m skyflock.manager`, with the API)
   on a free port with a fresh data dir, POSTs one submit description
   (`executable = /bin/true`, `queue N`) and times submit-to-all-completed:
   the clock stops when the store's queue is empty and the history holds all N
   jobs (every job's state, events and log index committed).
2. xargs -P2 on the same N commands (the floor), GNU parallel -j2 (when
   installed: bench/peers/parallel.sh), and a Slurm job array when `sinfo`
   answers (bench/peers/slurm.sh); Slurm runs `--slurm-jobs` array tasks
   (default min(N, 200)) because its scheduler paces it at a few jobs a second.
3. The time to submit `queue 100000` (needing more memory than any slot, so nothing runs) to a
   second fresh server: the POST's round trip.

Prints jobs/s for each and skyflock's ratio to each peer.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a live process, from /proc (its reaped children excluded)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def starter_pid(data_dir: Path) -> int | None:
    """The pid of the local starter serving `data_dir` (`backends.local_starter`), if any."""
    needle = f"--data-dir\0{data_dir}\0".encode()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                cmdline = (entry / "cmdline").read_bytes()
                if b"skyflock.backends.local_starter" in cmdline and needle in cmdline:
                    return int(entry.name)
    return None


SERVER_PID: dict[str, int] = {}
"""The running server's pid."""


@contextlib.contextmanager
def server(data_dir: Path, config: Path | None = None) -> Iterator[str]:
    port = free_port()
    cmd = [sys.executable, "-m", "skyflock.manager", "--data-dir", str(data_dir)]
    cmd += ["--port", str(port)]
    if config is not None:
        cmd += ["--config", str(config)]
    log = open(data_dir.parent / f"server-{port}.log", "w")  # noqa: SIM115
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"the server exited; see {log.name}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise SystemExit("the server did not answer within 60 s")
            time.sleep(0.1)
        SERVER_PID["pid"] = proc.pid
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def submit(client: httpx.Client, text: str, base_dir: Path) -> dict[str, object]:
    response = client.post(
        "/api/jobs",
        json={"submit": text, "filename": "bench.sub", "base_dir": str(base_dir)},
        timeout=600,
    )
    response.raise_for_status()
    result: dict[str, object] = response.json()
    return result


def queue_empty(client: httpx.Client) -> bool:
    response = client.get("/api/jobs", params={"limit": 1, "projection": "ProcId"}, timeout=60)
    response.raise_for_status()
    return not response.json()["ads"]


def history_count(client: httpx.Client, n: int) -> int:
    response = client.get(
        "/api/history", params={"limit": n + 1, "projection": "ExitCode"}, timeout=600
    )
    response.raise_for_status()
    return len(response.json()["ads"])


def bench_skyflock(
    jobs: int, work: Path, config: Path | None = None
) -> tuple[float, float, float | None]:
    """Seconds from submit to all done, and the CPU seconds the server and its starter used."""
    data = work / "data"
    with server(data, config) as url, httpx.Client(base_url=url) as client:
        text = f"executable = /bin/true\nqueue {jobs}\n"
        pid = SERVER_PID["pid"]
        cpu = cpu_seconds(pid)
        starter: int | None = None
        starter_cpu = 0.0
        started = time.perf_counter()
        submit(client, text, work)
        while not queue_empty(client):  # a light poll: each one is a store read
            if starter is None:
                starter = starter_pid(data)  # it starts with the first job
                starter_cpu = cpu_seconds(starter) if starter is not None else 0.0
            time.sleep(0.25)
        elapsed = time.perf_counter() - started
        cpu = cpu_seconds(pid) - cpu
        with contextlib.suppress(OSError):
            starter_cpu = cpu_seconds(starter) - starter_cpu if starter is not None else -1
        done = history_count(client, jobs)
    if done != jobs:
        raise SystemExit(f"skyflock: {done} of {jobs} jobs in the history")
    return elapsed, cpu, starter_cpu if starter is not None and starter_cpu >= 0 else None


def bench_submit(jobs: int, work: Path) -> float:
    data = work / "data-submit"
    with server(data) as url, httpx.Client(base_url=url) as client:
        # more memory than any slot has: queued and negotiated, never started
        text = f"executable = /bin/true\nrequest_memory = 64 TB\nqueue {jobs}\n"
        started = time.perf_counter()
        result = submit(client, text, work)
        elapsed = time.perf_counter() - started
    procs = result.get("procs")
    count = len(procs) if isinstance(procs, list) else result.get("count")
    if count != jobs:
        raise SystemExit(f"submit: {count} of {jobs} jobs queued")
    return elapsed


def bench_xargs(jobs: int) -> float:
    started = time.perf_counter()
    subprocess.run(
        ["xargs", "-P2", "-n1", "/bin/true"],
        input="".join(f"{i}\n" for i in range(jobs)),
        text=True,
        check=True,
    )
    return time.perf_counter() - started


def bench_parallel(jobs: int) -> float | None:
    if shutil.which("parallel") is None:
        return None
    started = time.perf_counter()
    subprocess.run(
        ["parallel", "-j2", "/bin/true", ":::", *[str(i) for i in range(jobs)]],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


def slurm_available() -> bool:
    if shutil.which("sinfo") is None or shutil.which("sbatch") is None:
        return False
    try:
        out = subprocess.run(["sinfo", "-h"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.returncode == 0 and bool(out.stdout.strip())


def bench_slurm(jobs: int, work: Path, timeout: float) -> float | None:
    if not slurm_available():
        return None
    out = work / "slurm"
    out.mkdir(exist_ok=True)
    started = time.perf_counter()
    sub = subprocess.run(
        [
            "sbatch",
            "--parsable",
            f"--array=1-{jobs}",
            f"--output={out}/%A_%a.out",
            "--wrap",
            "/bin/true",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    job_id = sub.stdout.strip().split(";")[0]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        q = subprocess.run(
            ["squeue", "-h", "-j", job_id], capture_output=True, text=True, check=False
        )
        if not q.stdout.strip():
            return time.perf_counter() - started
        time.sleep(0.5)
    subprocess.run(["scancel", job_id], check=False)
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--submit-jobs", type=int, default=100_000)
    parser.add_argument("--slurm-jobs", type=int, default=None)
    parser.add_argument("--slurm-timeout", type=float, default=600.0)
    parser.add_argument("--skip-peers", action="store_true")
    parser.add_argument("--skip-submit", action="store_true")
    parser.add_argument("--config", type=Path, default=None, help="server config for skyflock")
    args = parser.parse_args()
    n = args.jobs
    with tempfile.TemporaryDirectory(prefix="skyflock-bench-") as tmp:
        work = Path(tmp)
        results: dict[str, tuple[int, float]] = {}
        t, cpu, starter_cpu = bench_skyflock(n, work, args.config)
        results["skyflock"] = (n, t)
        print(f"skyflock     {n:>7} jobs {t:8.2f} s {n / t:9.1f} jobs/s", flush=True)
        print(f"  CPU of the server: {cpu:.2f} s, {cpu / n * 1e6:.0f} us a job", flush=True)
        if starter_cpu is not None:
            print(
                f"  CPU of its starter: {starter_cpu:.2f} s, {starter_cpu / n * 1e6:.0f} us a job",
                flush=True,
            )
        if not args.skip_peers:
            t = bench_xargs(n)
            results["xargs -P2"] = (n, t)
            print(f"xargs -P2    {n:>7} jobs {t:8.2f} s {n / t:9.1f} jobs/s", flush=True)
            pt = bench_parallel(n)
            if pt is not None:
                results["parallel -j2"] = (n, pt)
                print(f"parallel -j2 {n:>7} jobs {pt:8.2f} s {n / pt:9.1f} jobs/s", flush=True)
            else:
                print("parallel -j2 not installed (bench/peers/parallel.sh)")
            sn = args.slurm_jobs or min(n, 200)
            st = bench_slurm(sn, work, args.slurm_timeout)
            if st is not None:
                results["slurm array"] = (sn, st)
                print(f"slurm array  {sn:>7} jobs {st:8.2f} s {sn / st:9.1f} jobs/s", flush=True)
            else:
                print("slurm: no local Slurm answering (bench/peers/slurm.sh), or it timed out")
        rate = n / results["skyflock"][1]
        for name, (count, seconds) in results.items():
            if name != "skyflock":
                print(f"skyflock / {name}: {rate / (count / seconds):.2f}")
        if not args.skip_submit:
            st = bench_submit(args.submit_jobs, work)
            print(f"submit queue {args.submit_jobs}: {st:.2f} s", flush=True)
        print(f"(load average at the end: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores)")


if __name__ == "__main__":
    main()
