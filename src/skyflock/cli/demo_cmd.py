"""`skyflock demo`: the main job of `make run` — a whole batch system on this machine.

1. Starts `skyflock server` as a child process with the embedded defaults
   (state in `./.skyflock/`, the `local` cluster of this machine's cores and
   memory), or reuses a server already answering at the address.
2. Copies the example directory (`examples/batch/` unless `--examples DIR`)
   into the data dir, so outputs stay out of the source tree, and submits
   every `*.sub` in it: two accounting groups' parameter scans and one job
   that needs more memory than any slot has.
3. Shows a live progress bar per accounting group until every job that can
   run has finished (a job no slot could ever hold is set aside).
4. Prints the fair-share summary (`userprio`), the queue statistics, the
   `-analyze` text of the idle big-memory job, where the logs are, and the
   server's URL; then keeps the server running until Ctrl-C (or stops it with
   `--exit-when-done`).

Neighbours: `cli.client` (HTTP), `cli.userprio_cmd` and `cli.jobtable`
(printing), `cli.server_cmd` (the child), `api/` (what it asks).
"""

from __future__ import annotations

import getpass
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import urlsplit

import typer

from skyflock.cli.client import (
    DEFAULT_DATA_DIR,
    DEFAULT_HOST,
    DEFAULT_PORT,
    ENV_URL,
    Client,
    Refused,
    Unreachable,
    fail,
)
from skyflock.cli.userprio_cmd import userprio_table

if TYPE_CHECKING:
    from rich.console import Console

POLL_SECONDS = 0.5
START_TIMEOUT = 60.0


def default_examples() -> Path:
    """examples/batch of the source tree (or of the working directory)."""
    here = Path(__file__).resolve().parents[3] / "examples" / "batch"
    return here if here.is_dir() else Path("examples") / "batch"


@dataclass
class Group:
    name: str
    total: int = 0
    unrunnable: int = 0
    task: Any = None


@dataclass
class Submitted:
    clusters: list[int] = field(default_factory=list)
    files: list[str] = field(default_factory=list)

    @property
    def constraint(self) -> str:
        return " || ".join(f"ClusterId == {c}" for c in self.clusters)


class ServerChild:
    """The server we started (if any): its process and log file."""

    def __init__(self, port: int, host: str, data_dir: Path, config: Path | None = None) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = data_dir / "server.log"
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "skyflock.cli.main",
                "server",
                "--port",
                str(port),
                "--host",
                host,
                "--data-dir",
                str(data_dir),
                *(["--config", str(config)] if config is not None else []),
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

    def alive(self) -> bool:
        return self.process.poll() is None

    def tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout: float = 20.0) -> None:
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


def _owner() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return os.environ.get("USER", "nobody")


def start_or_reuse(
    api: Client, data_dir: Path, console: Console, config: Path | None = None
) -> ServerChild | None:
    if api.answers():
        console.print(f"Using the skyflock server already running at {api.url}.")
        return None
    parts = urlsplit(api.url)
    host = parts.hostname or DEFAULT_HOST
    port = parts.port or DEFAULT_PORT
    console.print(f"Starting skyflock server at {api.url} (state in {data_dir}) ...")
    if config is not None:
        console.print(f"Server configuration: {config}")
    child = ServerChild(port, host, data_dir, config)
    deadline = time.monotonic() + START_TIMEOUT
    while not api.answers():
        if not child.alive():
            child.stop()
            fail(
                f"the skyflock server exited at start-up; its log ({child.log_path}):\n{child.tail()}"
            )
        if time.monotonic() > deadline:
            child.stop()
            fail(
                f"the skyflock server did not answer within {START_TIMEOUT:.0f} s; see {child.log_path}"
            )
        time.sleep(0.2)
    return child


def stage_examples(examples: Path, data_dir: Path) -> Path:
    """A fresh copy of the examples under the data dir, with the out/ dir they write to."""
    work = data_dir / "demo" / examples.name
    if work.exists():
        shutil.rmtree(work)
    shutil.copytree(examples, work, ignore=shutil.ignore_patterns("out"))
    (work / "out").mkdir(exist_ok=True)
    return work


def submit_all(api: Client, work: Path, console: Console) -> Submitted:
    files = sorted(work.glob("*.sub"))
    if not files:
        fail(f"{work}: no *.sub files to submit")
    done = Submitted()
    for sub in files:
        answer = api.post(
            "/api/jobs",
            {
                "submit": sub.read_text(encoding="utf-8"),
                "filename": sub.name,
                "base_dir": str(work),
                "owner": _owner(),
                "environ": dict(os.environ),
            },
        )
        for warning in answer["warnings"]:
            console.print(f"warning: {warning}", style="yellow")
        console.print(
            f"{sub.name}: {answer['count']} job(s) submitted to cluster {answer['cluster_id']}."
        )
        done.clusters.append(answer["cluster_id"])
        done.files.append(sub.name)
    return done


def _num(ad: dict[str, Any], name: str) -> float:
    value = ad.get(name)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


@dataclass(frozen=True)
class Capacity:
    """The most cores and memory (MiB) any one slot has, and where."""

    cores: float
    memory: float
    memory_where: str


def capacity(api: Client) -> Capacity:
    slots = api.get("/api/slots")["ads"]
    biggest: dict[str, Any] = max(slots, key=lambda s: _num(s, "TotalMemory"), default={})
    return Capacity(
        cores=max((_num(s, "TotalCpus") for s in slots), default=0.0),
        memory=_num(biggest, "TotalMemory"),
        memory_where=str(biggest.get("Name") or biggest.get("ClusterName") or "-"),
    )


def size(mib: float) -> str:
    """Memory in MiB as a person reads it: 512 MiB, 23.5 GiB, 4 TiB."""
    for unit, scale in (("TiB", 1024.0**2), ("GiB", 1024.0)):
        if mib >= scale:
            return f"{mib / scale:.1f}".removesuffix(".0") + f" {unit}"
    return f"{mib:g} MiB"


def why_never(ad: dict[str, Any], room: Capacity) -> str:
    """One sentence: what the job asks that no slot has."""
    job = f"{ad.get('ClusterId')}.{ad.get('ProcId')}"
    wants = []
    if _num(ad, "RequestMemory") > room.memory:
        wants.append(
            f"{size(_num(ad, 'RequestMemory'))} of memory, and the largest slot "
            f"({room.memory_where}) has {size(room.memory)}"
        )
    if _num(ad, "RequestCpus") > room.cores:
        wants.append(f"{_num(ad, 'RequestCpus'):g} cores, and the largest slot has {room.cores:g}")
    return f"No slot can ever run job {job}: it asks for {'; and for '.join(wants)}."


def group_of(ad: dict[str, Any]) -> str:
    for name in ("AcctGroup", "AccountingGroup", "Owner"):
        value = ad.get(name)
        if isinstance(value, str) and value:
            return value.split(".")[0] if name == "AccountingGroup" else value
    return "<none>"


def unrunnable(ad: dict[str, Any], room: Capacity) -> bool:
    return _num(ad, "RequestCpus") > room.cores or _num(ad, "RequestMemory") > room.memory


def every_job(api: Client, submitted: Submitted) -> list[dict[str, Any]]:
    """Each submitted job once: the queue now, then the jobs already finished.

    A job that finishes between the two reads is in both answers; it counts once
    (counting it twice showed 202/202 for a group of 200). Reading the queue
    first means no job can be in neither.
    """
    params = {"constraint": submitted.constraint, "projection": WATCH}
    jobs = {
        (ad.get("ClusterId"), ad.get("ProcId")): ad
        for ad in api.get("/api/jobs", params=params)["ads"]
    }
    history = {"constraint": submitted.constraint, "limit": 100_000}
    for ad in api.get("/api/history", params=history)["ads"]:
        jobs.setdefault((ad.get("ClusterId"), ad.get("ProcId")), ad)
    return list(jobs.values())


WATCH = [
    "ClusterId",
    "ProcId",
    "JobStatus",
    "AcctGroup",
    "AccountingGroup",
    "Owner",
    "RequestCpus",
    "RequestMemory",
]


def watch(
    api: Client, submitted: Submitted, console: Console, timeout: float
) -> list[tuple[str, str]]:
    """Progress per group until every runnable job has left the queue; the jobs no slot
    can ever hold, each with the sentence that says why."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    room = capacity(api)
    groups: dict[str, Group] = {}
    stuck: list[tuple[str, str]] = []
    for ad in every_job(api, submitted):
        group = groups.setdefault(group_of(ad), Group(group_of(ad)))
        if unrunnable(ad, room):
            group.unrunnable += 1
            stuck.append((f"{ad.get('ClusterId')}.{ad.get('ProcId')}", why_never(ad, room)))
        else:
            group.total += 1
    deadline = time.monotonic() + timeout
    columns = (
        TextColumn("{task.fields[group]:<8}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        for group in sorted(groups.values(), key=lambda g: g.name):
            group.task = progress.add_task("", total=group.total, group=group.name, detail="")
        while True:
            ads = api.get(
                "/api/jobs", params={"constraint": submitted.constraint, "projection": WATCH}
            )["ads"]
            left: dict[str, dict[int, int]] = {}
            for ad in ads:
                if unrunnable(ad, room):
                    continue
                status = int(_num(ad, "JobStatus"))
                counts = left.setdefault(group_of(ad), {})
                counts[status] = counts.get(status, 0) + 1
            for name, group in groups.items():
                counts = left.get(name, {})
                remaining = sum(counts.values())
                detail = (
                    f"{counts.get(2, 0)} running, {counts.get(1, 0)} idle" if remaining else "done"
                )
                if counts.get(5):
                    detail += f", {counts[5]} held"
                progress.update(group.task, completed=group.total - remaining, detail=detail)
            waiting = sum(c.get(1, 0) + c.get(2, 0) for c in left.values())
            if not waiting:
                break
            if time.monotonic() > deadline:
                console.print(
                    f"[yellow]Gave up waiting after {timeout:.0f} s; {waiting} jobs still queued.[/]"
                )
                break
            time.sleep(POLL_SECONDS)
    return stuck


def report(
    api: Client,
    submitted: Submitted,
    stuck: Sequence[tuple[str, str]],
    console: Console,
    *,
    work: Path,
    server_stays: bool,
) -> None:
    from skyflock.cli.jobtable import ads_from_answer, status_of

    console.print()
    console.rule("Fair share (skyflock userprio)")
    console.print(userprio_table(api.get("/api/userprio")), markup=False, soft_wrap=True)
    console.print("The lowest effective priority is served first; it rises with recent usage.")

    console.rule("Queue statistics")
    queue = ads_from_answer(
        api.get("/api/jobs", params={"constraint": submitted.constraint, "form": "new"})["ads"]
    )
    history = api.get(
        "/api/history", params={"constraint": submitted.constraint, "limit": 100_000}
    )["ads"]
    completed = [h for h in history if h.get("JobStatus") == 4]
    failed = [
        h for h in completed if h.get("ExitBySignal") is True or h.get("ExitCode") not in (0, None)
    ]
    walls = [_num(h, "RemoteWallClockTime") for h in completed]
    clusters = ", ".join(map(str, submitted.clusters))
    left = {n: sum(1 for ad in queue if status_of(ad) == n) for n in (1, 2, 5)}
    console.print(
        f"Queue: {len(queue)} job{'s' if len(queue) != 1 else ''} of clusters {clusters} left: "
        f"{left[1]} idle, {left[2]} running, {left[5]} held"
    )
    console.print(f"Finished: {len(history)} jobs")
    console.print(
        f"  {len(completed)} completed ({len(failed)} with a non-zero exit code), "
        f"{len(history) - len(completed)} removed"
    )
    if walls:
        console.print(
            f"  run time per job: mean {sum(walls) / len(walls):.2f} s, max {max(walls):.2f} s"
        )
    stats = api.get("/api/stats")
    console.print(
        f"Negotiator: {stats['cycles']} cycles, {stats['total_matches']} matches, "
        f"{stats['total_preemptions']} preemptions"
    )
    console.print(f"  last cycle took {stats['last_cycle_seconds'] * 1000:.1f} ms")

    for job, why in stuck:
        console.rule(f"Why job {job} is idle (skyflock q -analyze {job})")
        console.print(why)
        console.print()
        try:
            console.print(api.get(f"/api/jobs/{job}/analyze")["text"].rstrip("\n"), markup=False)
        except Refused as exc:
            console.print(exc.message)

    config = api.get("/api/config")
    data_dir = Path(str(config["server"]["data_dir"]))
    first = f"{submitted.clusters[0]}.0"
    console.rule("Where things are")
    console.print(f"Job logs (stdout, stderr, events): {data_dir / 'logs'}/")
    console.print(f"  skyflock logs {first}            job {first}'s stdout")
    console.print(f"  skyflock logs {first} --events   its event log")
    console.print(f"Outputs of the example jobs: {work / 'out'}/")
    if server_stays:
        console.print(f"Server: {api.url}")
        console.print(f"  API docs {api.url}/docs")
        console.print(f"  metrics  {api.url}/metrics")
        if api.url != f"http://{DEFAULT_HOST}:{DEFAULT_PORT}":
            console.print(f"  the commands find it with: export {ENV_URL}={api.url}")
    else:
        console.print(f"Server: stopped (it ran at {api.url}); its state stays in {data_dir}.")
        port = urlsplit(api.url).port or DEFAULT_PORT
        again = f"skyflock server --data-dir {data_dir}"
        if port != DEFAULT_PORT:
            again += f" --port {port}"
        console.print(f"  {again}   starts it again")


def _interrupted(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def demo_command(
    examples: Annotated[
        Path | None,
        typer.Option(
            "--examples",
            help="Directory of *.sub files, and optionally the skyflock.toml the server it starts uses (default examples/batch).",
        ),
    ] = None,
    data_dir: Annotated[
        Path, typer.Option("--data-dir", "-d", help="State directory of the server this starts.")
    ] = Path(DEFAULT_DATA_DIR),
    exit_when_done: Annotated[
        bool, typer.Option("--exit-when-done", help="Stop the server and exit after the summary.")
    ] = False,
    timeout: Annotated[
        float, typer.Option("--timeout", help="Most seconds to wait for the jobs.")
    ] = 900.0,
) -> None:
    """Start a server, run the example batch, show progress and the fair-share summary."""
    from rich.console import Console

    source = examples or default_examples()
    if not source.is_dir():
        fail(f"{source}: no such examples directory")
    # long lines wrap at word boundaries to the terminal's width (80 columns when unknown)
    console = Console(highlight=False, emoji=False)
    signal.signal(signal.SIGTERM, _interrupted)
    data_dir = data_dir.resolve()
    api = Client(os.environ.get(ENV_URL) or f"http://{DEFAULT_HOST}:{DEFAULT_PORT}")
    child: ServerChild | None = None
    try:
        config = source / "skyflock.toml"
        child = start_or_reuse(api, data_dir, console, config if config.is_file() else None)
        work = stage_examples(source, data_dir)
        submitted = submit_all(api, work, console)
        stuck = watch(api, submitted, console, timeout)
        report(
            api,
            submitted,
            stuck,
            console,
            work=work,
            server_stays=child is None or not exit_when_done,
        )
        if child is None or exit_when_done:
            return
        console.print(f"\nThe server keeps running at {api.url}; Ctrl-C stops it.")
        while child.alive():
            time.sleep(0.5)
        fail(f"the server stopped by itself; its log ({child.log_path}):\n{child.tail()}")
    except KeyboardInterrupt:
        console.print("\nStopping the server ...")
    except Unreachable as exc:
        fail(f"cannot reach the skyflock server at {exc.url}: start it with `skyflock server`", 2)
    except Refused as exc:
        fail(exc.message)
    finally:
        if child is not None:
            child.stop()
        api.close()


def register(app: typer.Typer) -> None:
    app.command("demo")(demo_command)
