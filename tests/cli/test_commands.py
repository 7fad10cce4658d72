"""The real `skyflock` command against a real server on a free port (temp data dir).

Each test runs the installed command as a subprocess, the way a person or a
script does, and checks its output and exit code: 0 ok, 1 a refused request
or bad input (queue unchanged), 2 no server.
"""

from __future__ import annotations

import getpass
import json
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from skyflock.cli.status_cmd import SLOT_COLUMNS
from tests.api.conftest import wait_for as api_wait_for
from tests.cli.server_fixture import ServerProcess, free_port, skyflock_argv

pytestmark = pytest.mark.timeout(180)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess.start(tmp_path_factory.mktemp("server"))
    try:
        yield proc
    finally:
        proc.stop()


def wait_for(check: Callable[[], Any], timeout: float = 30.0) -> Any:
    return api_wait_for(check, timeout, every=0.1)


def job_status(server: ServerProcess, job: str) -> int:
    r = httpx.get(f"{server.url}/api/jobs/{job}")
    return int(r.json()["ad"]["JobStatus"])


def in_history(server: ServerProcess, job: str) -> bool:
    return httpx.get(f"{server.url}/api/jobs/{job}").json()["where"] == "history"


def queue_snapshot(server: ServerProcess, cluster: int) -> list[tuple[str, int]]:
    """The jobs of one cluster and their states (the module's server is shared, so
    a test looks only at its own jobs), plus any job of a newer cluster."""
    ads = []
    for path in ("/api/jobs", "/api/history"):
        params = {"constraint": f"ClusterId >= {cluster}", "limit": 1000}
        ads += httpx.get(f"{server.url}{path}", params=params).json()["ads"]
    return sorted((f"{a['ClusterId']}.{a['ProcId']}", a["JobStatus"]) for a in ads)


def submit(server: ServerProcess, tmp_path: Path, text: str, name: str = "job.sub") -> int:
    sub = tmp_path / name
    sub.write_text(text)
    r = server.run("submit", str(sub))
    assert r.returncode == 0, r.stderr
    words = r.stdout.strip().split()
    assert r.stdout.strip().endswith(".") and words[1] == "job(s)", r.stdout
    return int(words[-1].rstrip("."))


def test_submit_q_af_constraint_long_json_qedit_release_history_rm(
    server: ServerProcess, tmp_path: Path
) -> None:
    # a cluster first, so that the one under test is not cluster 1 and $(Cluster)
    # must be the id the server assigns, not the 1 a local parse gives
    other = {"submit": "executable = /bin/true\nhold = true\nqueue\n", "base_dir": str(tmp_path)}
    earlier = httpx.post(f"{server.url}/api/jobs", json=other).json()["cluster_id"]
    httpx.post(f"{server.url}/api/jobs/remove", json={"ids": [f"{earlier}.0"]})
    text = 'executable = /bin/echo\narguments = "hi $(Process)"\noutput = out.$(Cluster).$(Process)\nhold = true\nqueue 3\n'
    sub = tmp_path / "job.sub"
    sub.write_text(text)
    r = server.run("submit", str(sub))
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("3 job(s) submitted to cluster ")
    c = int(r.stdout.split()[-1].rstrip("."))
    assert c > earlier >= 1

    # for scripts: the server's answer as JSON
    r = server.run("submit", str(sub), "--json")
    assert r.returncode == 0, r.stderr
    answer = json.loads(r.stdout)
    c2 = answer["cluster_id"]
    assert answer == {
        "cluster_id": c2,
        "procs": [f"{c2}.0", f"{c2}.1", f"{c2}.2"],
        "warnings": [],
        "count": 3,
    }
    assert c2 > c
    assert server.run("rm", str(c2)).returncode == 0

    r = server.run("q", str(c))
    assert r.returncode == 0
    assert f"{c}.0" in r.stdout and " H " in r.stdout and "echo hi 0" in r.stdout
    query, everyone = r.stdout.strip().splitlines()[-2:]
    assert query == (
        "Total for query: 3 jobs; 0 completed, 0 removed, 0 idle, 0 running, 3 held, 0 suspended"
    )
    # the whole queue (this module's server is shared): as many jobs as the API lists
    assert everyone.startswith("Total for all users: ")
    in_queue = httpx.get(f"{server.url}/api/jobs").json()["count"]
    assert f"Total for all users: {in_queue} jobs; " in everyone and in_queue >= 3
    r = server.run("q", str(c), "-af", "ProcId", "JobStatus", "Arguments")
    assert r.stdout.splitlines() == ["0 5 hi 0", "1 5 hi 1", "2 5 hi 2"]
    # as with condor_q, a word before -af is a selector (an owner), one after it an attribute
    me = getpass.getuser()
    r = server.run("q", me, "-af", "ClusterId", "ProcId", "-constraint", f"ClusterId == {c}")
    assert r.returncode == 0 and r.stdout.splitlines() == [f"{c} 0", f"{c} 1", f"{c} 2"]
    assert server.run("q", "nobody_here", "-af", "ClusterId").stdout == ""
    r = server.run(
        "q", "-constraint", f"ClusterId == {c} && ProcId == 1", "-af", "ProcId", "RequestCpus * 2"
    )
    assert r.stdout.splitlines() == ["1 2"]
    r = server.run("q", f"{c}.2", "-long")
    assert "ProcId = 2" in r.stdout.splitlines() and f"ClusterId = {c}" in r.stdout.splitlines()
    r = server.run("q", str(c), "--json")
    assert [ad["ProcId"] for ad in json.loads(r.stdout)] == [0, 1, 2]

    r = server.run("qedit", f"{c}.0", "Foo", '"bar"')
    assert r.returncode == 0 and r.stdout.strip() == f"Job {c}.0 edited."
    assert server.run("q", f"{c}.0", "-af", "Foo").stdout.strip() == "bar"

    r = server.run("release", f"{c}.1")
    assert r.returncode == 0 and r.stdout.strip() == f"Job {c}.1 released."
    wait_for(lambda: in_history(server, f"{c}.1"))
    # the server read the submit file: $(Cluster) is the cluster it assigned
    assert (tmp_path / f"out.{c}.1").read_text() == "hi 1\n"
    r = server.run("history", f"{c}.1")
    assert r.returncode == 0 and f"{c}.1" in r.stdout and " C " in r.stdout
    assert server.run("history", str(c), "-af", "ProcId", "ExitCode").stdout.splitlines() == ["1 0"]

    r = server.run("rm", str(c), "-reason", "tidy up")
    assert r.returncode == 0
    assert sorted(r.stdout.splitlines()) == [
        f"Job {c}.0 marked for removal.",
        f"Job {c}.2 marked for removal.",
    ]
    assert server.run("q", str(c)).stdout.strip().splitlines()[0] == (
        "Total for query: 0 jobs; 0 completed, 0 removed, 0 idle, 0 running, 0 held, 0 suspended"
    )


def test_release_of_a_running_job_is_refused_with_exit_1(
    server: ServerProcess, tmp_path: Path
) -> None:
    c = submit(server, tmp_path, "executable = /bin/sleep\narguments = 20\nqueue\n")
    job = f"{c}.0"
    try:
        wait_for(lambda: job_status(server, job) == 2)
        before = queue_snapshot(server, c)
        r = server.run("release", job)
        assert r.returncode == 1
        assert r.stdout == ""
        assert r.stderr.count("\n") == 1 and job in r.stderr and "Traceback" not in r.stderr
        assert "running" in r.stderr.lower(), r.stderr
        assert queue_snapshot(server, c) == before == [(job, 2)]
    finally:
        assert server.run("rm", job).returncode == 0
    wait_for(lambda: in_history(server, job))


def test_logs_plain_follow_and_events(server: ServerProcess, tmp_path: Path) -> None:
    c = submit(
        server,
        tmp_path,
        "executable = /bin/sh\narguments = \"-c 'echo out; echo err >&2; sleep 1; echo late'\"\nqueue\n",
    )
    job = f"{c}.0"
    r = server.run("logs", job, "-f")
    assert r.returncode == 0
    assert r.stdout.splitlines() == ["out", "late"]
    assert server.run("logs", job).stdout == "out\nlate\n"
    assert server.run("logs", job, "--stderr").stdout == "err\n"
    events = server.run("logs", job, "--events").stdout
    assert "submitted" in events and "completed" in events


def test_logs_follow_of_a_job_put_on_hold_ends_with_exit_1(
    server: ServerProcess, tmp_path: Path
) -> None:
    c = submit(
        server,
        tmp_path,
        "executable = /bin/sh\narguments = \"-c 'echo started; sleep 60'\"\n"
        'periodic_hold = JobStatus == 2\nperiodic_hold_reason = "over budget"\nqueue\n',
    )
    job = f"{c}.0"
    r = server.run("logs", job, "-f")
    assert (r.returncode, r.stdout) == (1, "started\n"), r.stderr
    assert r.stderr == (
        f"job {job} is held: over budget (`skyflock release {job}` lets it run again)\n"
    )
    assert server.run("rm", job).returncode == 0


def test_analyze_the_big_memory_job(server: ServerProcess, tmp_path: Path) -> None:
    c = submit(server, tmp_path, "executable = /bin/true\nrequest_memory = 4T\nqueue\n")
    job = f"{c}.0"
    try:
        text = wait_for(
            lambda: (
                (out := server.run("analyze", job).stdout)
                and "not been considered" not in out
                and out
            )
        )
        assert job in text and "RequestMemory" in text
        r = server.run("q", job, "-analyze")
        assert r.returncode == 0 and "RequestMemory" in r.stdout
    finally:
        server.run("rm", job)


def test_userprio_set_and_get(server: ServerProcess, tmp_path: Path) -> None:
    c = submit(
        server,
        tmp_path,
        "executable = /bin/sleep\narguments = 0.5\naccounting_group = physics\nqueue\n",
    )
    wait_for(lambda: in_history(server, f"{c}.0"))
    me = f"physics.{getpass.getuser()}"
    r = server.run("userprio", "-setfactor", me, "7", "-setceiling", me, "1")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"Set factor 7, ceiling 1 for {me};")
    r = server.run("userprio")
    assert r.returncode == 0
    (row,) = [line.split() for line in r.stdout.splitlines() if line.startswith(me)]
    # User Name, Group, Eff. Prio, Real Prio, Prio Factor, ...: effective = real x factor
    assert row[4] == "7"
    assert float(row[2]) == pytest.approx(7 * float(row[3]), abs=0.01)
    narrow = server.run("userprio", columns=40)
    assert narrow.stdout == r.stdout and "…" not in narrow.stdout
    rows = {row["submitter"]: row for row in json.loads(server.run("userprio", "--json").stdout)}
    assert rows[me]["priority_factor"] == 7 and rows[me]["ceiling"] == 1
    r = server.run("userprio", "-setfactor", me, "0")
    assert r.returncode == 1 and "factor" in r.stderr


def test_status_and_config(server: ServerProcess) -> None:
    r = server.run("status")
    assert r.returncode == 0
    assert "Unclaimed" in r.stdout or "Claimed" in r.stdout
    assert "local" in r.stdout and "/2048" in r.stdout
    # in a pipe or a narrow terminal nothing is cut, as with condor_status
    narrow = server.run("status", columns=40)
    assert narrow.stdout == r.stdout and "…" not in narrow.stdout
    header = narrow.stdout.splitlines()[0]
    assert header.split() == list(SLOT_COLUMNS)
    cluster_header = narrow.stdout.split("\n\n")[1].splitlines()[0]
    assert cluster_header.split()[:5] == ["Cluster", "Kind", "Tier", "Slots", "Cores"]
    r = server.run("status", "--json")
    assert json.loads(r.stdout)["clusters"][0]["cores_total"] == 2
    assert server.run("config", "negotiator.interval").stdout.strip() == "negotiator.interval = 0.2"
    r = server.run("config", "no.such.key")
    assert r.returncode == 1 and "no such configuration key" in r.stderr


def test_bad_input_leaves_the_queue_unchanged(server: ServerProcess, tmp_path: Path) -> None:
    c = submit(server, tmp_path, "executable = /bin/true\nhold = true\nqueue 2\n", "keep.sub")
    before = queue_snapshot(server, c)
    assert before == [(f"{c}.0", 5), (f"{c}.1", 5)]
    bad = tmp_path / "bad.sub"
    bad.write_text("executable = /bin/true\nqueue foo bar\n")
    r = server.run("submit", str(bad))
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{bad}:2:"), r.stderr

    # a body over the server's 16 MiB limit: its 413, as one line
    big = tmp_path / "big.sub"
    padding = "# " + "x" * 98 + "\n"
    big.write_text("executable = /bin/true\n" + padding * 175_000 + "queue\n")
    r = server.run("submit", str(big))
    assert r.returncode == 1, r.stdout + r.stderr
    assert r.stdout == ""
    assert r.stderr == (
        "request body too large: the limit is 16 MiB; split the submit into several smaller ones\n"
    )

    # a bad constraint: one message, the caret under the text as typed
    r = server.run("q", "-constraint", "JobStatus ==")
    assert r.returncode == 1 and r.stdout == ""
    first, text, caret = r.stderr.rstrip("\n").split("\n")
    assert first.startswith("-constraint: line 1, column 13: "), r.stderr
    assert text == "JobStatus ==" and caret == " " * 12 + "^"
    for args, message in (
        (("rm", "999.0"), "no job 999.0 in the queue or the history"),
        (("hold", "999.0"), "no job 999.0 in the queue or the history"),
        (("release", "999.0"), "no job 999.0 in the queue or the history"),
        (("qedit", "999.0", "A", "1"), "no job 999.0 in the queue or the history"),
        (("analyze", "999.0"), "no job 999.0 in the queue or the history"),
        (("logs", "999.0"), "no job 999.0 in the queue or the history"),
        (("logs", "abc"), "'abc': expected a job id CLUSTER.PROC, like 12.0"),
        (("rm", "999999"), "no job in the queue matches ClusterId == 999999"),
        (("hold", f"{c}.0"), f"job {c}.0 is Held; only Idle or Running jobs can be held"),
        (("q", "-constraint", "JobStatus =="), "-constraint: line 1, column 13"),
        (("rm", "not a job"), "'not a job': not a job id (12.0), a cluster id (12) or an owner"),
        (("qedit", "-constraint", "true", "A", "1 +"), "A: line 1, column 4"),
        (
            ("qedit", f"{c}.0", "Foo Bar", "1"),
            "attribute: 'Foo Bar' is not an attribute name: letters, digits and _, "
            "not starting with a digit",
        ),
        (("q", "-af", "a +"), "-af a +: line 1, column 4"),
    ):
        r = server.run(*args)
        assert r.returncode == 1, (args, r.stdout, r.stderr)
        assert r.stderr.startswith(message) and "Traceback" not in r.stderr, (args, r.stderr)
    r = server.run("rm")
    assert r.returncode == 2 and "name the jobs" in r.stderr
    assert queue_snapshot(server, c) == before


def test_a_second_server_on_the_same_data_dir_or_port_is_refused(
    server: ServerProcess, tmp_path: Path
) -> None:
    port = server.url.rsplit(":", 1)[1]
    pid = (server.data_dir / "server.lock").read_text().strip()
    assert pid == str(server.process.pid)
    for args, message in (
        (
            ("--port", str(free_port()), "--data-dir", str(server.data_dir)),
            f"skyflock server: another skyflock server (pid {pid}) is using {server.data_dir}; "
            "stop it first, or give this one its own --data-dir\n",
        ),
        (
            ("--port", port, "--data-dir", str(tmp_path / "other")),
            f"skyflock server: port {port} on 127.0.0.1 is in use (another skyflock server?); "
            "choose another with --port\n",
        ),
    ):
        r = subprocess.run(
            [*skyflock_argv(), "server", *args], capture_output=True, text=True, timeout=60
        )
        assert (r.returncode, r.stdout, r.stderr) == (1, "", message)
    assert not (tmp_path / "other" / "skyflock.db").exists()
    assert server.run("q").returncode == 0


def test_no_server_is_exit_2_with_one_line(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    proc = ServerProcess(url=url, data_dir=tmp_path, process=None)  # type: ignore[arg-type]
    r = proc.run("q")
    assert r.returncode == 2
    assert (
        r.stderr == f"cannot reach the skyflock server at {url}: start it with `skyflock server`\n"
    )


def test_demo_end_to_end_on_a_small_example_set(tmp_path: Path) -> None:
    examples = tmp_path / "examples"
    examples.mkdir()
    shutil.copy(ROOT / "examples" / "batch" / "scan.sh", examples)
    (examples / "a.sub").write_text(
        "executable = scan.sh\narguments = $(Process) 1.0\noutput = out/a.$(Cluster).$(Process)\n"
        "accounting_group = atlas\naccounting_group_user = alice\nrequest_memory = 16M\nqueue 4\n"
    )
    (examples / "b.sub").write_text(
        "executable = scan.sh\narguments = $(Process) 2.0\naccounting_group = cms\n"
        "accounting_group_user = bob\nrequest_memory = 16M\nqueue 3\n"
    )
    (examples / "big.sub").write_text("executable = /bin/true\nrequest_memory = 4T\nqueue\n")
    port = free_port()
    proc = ServerProcess(url=f"http://127.0.0.1:{port}", data_dir=tmp_path, process=None)  # type: ignore[arg-type]
    r = proc.run(
        "demo",
        "--examples",
        str(examples),
        "--data-dir",
        str(tmp_path / "data"),
        "--exit-when-done",
    )
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout
    assert "a.sub: 4 job(s) submitted to cluster 1." in out
    assert "4/4" in out and "3/3" in out
    assert "atlas.alice" in out and "cms.bob" in out
    assert "Queue: 1 job of clusters 1, 2, 3 left: 1 idle, 0 running, 0 held" in out
    assert "Finished: 7 jobs" in out and "7 completed (0 with a non-zero exit code)" in out
    assert "Why job 3.0 is idle" in out and "RequestMemory" in out
    assert "No slot can ever run job 3.0: it asks for 4 TiB of memory, and the largest slot" in out
    assert str(tmp_path / "data" / "logs") in out and proc.url in out
    assert f"Server: stopped (it ran at {proc.url})" in out
    assert (
        (tmp_path / "data" / "demo" / "examples" / "out" / "a.1.3").read_text().startswith("mass=3")
    )
    # the server it started is gone
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{proc.url}/healthz", timeout=1)
    assert skyflock_argv()
