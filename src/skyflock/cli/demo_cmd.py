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


def capacity(api: Client) -> tuple[float, float]:
    """The most cores and memory (MiB) any one slot has."""
    slots = api.get("/api/slots")["ads"]
    return (
        max((_num(s, "TotalCpus") for s in slots), default=0.0),
        max((_num(s, "TotalMemory") for s in slots), default=0.0),
    )


def group_of(ad: dict[str, Any]) -> str:
    for name in ("AcctGroup", "AccountingGroup", "Owner"):
        value = ad.get(name)
        if isinstance(value, str) and value:
            return value.split(".")[0] if name == "AccountingGroup" else value
    return "<none>"


def unrunnable(ad: dict[str, Any], cores: float, memory: float) -> bool:
    return _num(ad, "RequestCpus") > cores or _num(ad, "RequestMemory") > memory


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


def watch(api: Client, submitted: Submitted, console: Console, timeout: float) -> list[str]:
    """Progress per group until every runnable job has left the queue; the stuck job ids."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    cores, memory = capacity(api)
    # the queue now, plus the jobs that already finished: every job submitted
    first = api.get("/api/jobs", params={"constraint": submitted.constraint, "projection": WATCH})[
        "ads"
    ]
    first += api.get("/api/history", params={"constraint": submitted.constraint, "limit": 100_000})[
        "ads"
    ]
    groups: dict[str, Group] = {}
    stuck: list[str] = []
    for ad in first:
        group = groups.setdefault(group_of(ad), Group(group_of(ad)))
        if unrunnable(ad, cores, memory):
            group.unrunnable += 1
            stuck.append(f"{ad.get('ClusterId')}.{ad.get('ProcId')}")
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
                if unrunnable(ad, cores, memory):
                    continue
                status = int(_num(ad, "JobStatus"))
                counts = left.setdefault(group_of(ad), {})
                counts[status] = counts.get(status, 0) + 1
            for name, group in groups.items():
                counts = left.get(name, {})
                remaining = sum(counts.values())
                detail = f"{counts.get(2, 0)} running, {counts.get(1, 0)} idle"
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


def report(api: Client, submitted: Submitted, stuck: Sequence[str], console: Console) -> None:
    from skyflock.cli.jobtable import ads_from_answer, totals_line

    console.print()
    console.rule("Fair share (skyflock userprio)")
    console.print(userprio_table(api.get("/api/userprio")))

    console.rule("Queue statistics")
    queue = ads_from_answer(
        api.get("/api/jobs", params={"constraint": submitted.constraint, "form": "new"})["ads"]
    )
    history = api.get(
        "/api/history", params={"constraint": submitted.constraint, "limit": 100_000}
    )["ads"]
    completed = [h for h in history if h.get("JobStatus") == 4]
    failed = [h for h in completed if h.get("ExitCode") not in (0, None)]
    walls = [_num(h, "RemoteWallClockTime") for h in completed]
    console.print(totals_line(queue))
    console.print(
        f"History: {len(history)} finished jobs of clusters "
        f"{', '.join(map(str, submitted.clusters))}: {len(completed)} completed "
        f"({len(failed)} with a non-zero exit code), {len(history) - len(completed)} removed"
    )
    if walls:
        console.print(
            f"Run time per job: mean {sum(walls) / len(walls):.2f} s, max {max(walls):.2f} s"
        )
    stats = api.get("/api/stats")
    console.print(
        f"Negotiator: {stats['cycles']} cycles, {stats['total_matches']} matches, "
        f"{stats['total_preemptions']} preemptions; last cycle {stats['last_cycle_seconds'] * 1000:.1f} ms"
    )

    for job in stuck:
        console.rule(f"Why job {job} is idle (skyflock q -analyze {job})")
        try:
            console.print(api.get(f"/api/jobs/{job}/analyze")["text"].rstrip("\n"), highlight=False)
        except Refused as exc:
            console.print(exc.message)

    config = api.get("/api/config")
    data_dir = Path(str(config["server"]["data_dir"]))
    console.rule("Where things are")
    console.print(f"Job logs (stdout, stderr, events): {data_dir / 'logs'}/<job id>/")
    console.print(
        f"  e.g. skyflock logs {submitted.clusters[0]}.0   or   skyflock logs {submitted.clusters[0]}.0 --events"
    )
    console.print(f"Job outputs of the examples: {data_dir / 'demo'}")
    console.print(f"Server: {api.url}  (API docs {api.url}/docs, metrics {api.url}/metrics)")


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
    console = Console(highlight=False, soft_wrap=True, emoji=False)
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
        report(api, submitted, stuck, console)
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
