"""The cost of a big submit, through the real path, against the floor of the database.

    .venv/bin/python bench/submit_bench.py --procs 100000 [--database-url URL]

For two submit descriptions, `executable = /bin/true` + `queue N` (nothing
differs between jobs) and a parameter scan (`arguments = $(Process)`,
`output = out.$(Process)`, `error = err.$(Process)`: three attributes per job
of its own), it times the path the manager takes: `parse_submit_cluster`
(submit text -> one cluster ad and each job's own values), then
`store.jobs.submit_cluster` (serialisation, the insert of the jobs and their
`submitted` events, the commit), each as wall-clock and CPU seconds.

The floor, in the same run: the same rows (the same 16 column values per job,
the same proc ad texts) and the same number of event rows written straight
through the driver into tables that have only a primary key, in one
transaction: `sqlite3` executemany with the store's pragmas (WAL,
synchronous=NORMAL), and `COPY` through psycopg on PostgreSQL. The ratio
total / floor says what the store's indexes, events and Python cost beyond
simply writing the data.

SQLite runs in a temporary directory; PostgreSQL (`--database-url`, default
the test server at 127.0.0.1:5432, database `test`) in a schema of its own,
dropped at the end, and is skipped with a message when it does not answer.
"""

from __future__ import annotations

import argparse
import contextlib
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import text

from skyflock.store import Store
from skyflock.store.engine import make_engine
from skyflock.store.submit_codec import encode_submit
from skyflock.submit import parse_submit_cluster

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"

FILES = {
    "queue N": "executable = /bin/true\nqueue {n}\n",
    "scan": (
        "executable = /bin/true\n"
        "arguments = $(Process)\n"
        "output = out.$(Process)\n"
        "error = err.$(Process)\n"
        "request_memory = 64M\n"
        "accounting_group = atlas\n"
        "queue {n}\n"
    ),
}

_COLUMNS = (
    "id, cluster_id, proc_id, status, substate, owner, submitter, acct_group, job_prio, "
    "q_date, workflow_id, step_name, num_job_starts, wall_clock, entered_status_at, ad"
)


@dataclass
class Timing:
    wall: float
    cpu: float

    def __str__(self) -> str:
        return f"{self.wall:6.2f} s (cpu {self.cpu:5.2f})"


@contextlib.contextmanager
def timed() -> Iterator[Timing]:
    t = Timing(0.0, 0.0)
    w0, c0 = time.perf_counter(), time.process_time()
    yield t
    t.wall, t.cpu = time.perf_counter() - w0, time.process_time() - c0


def rows_of(submit_text: str, cluster_id: int) -> list[tuple[Any, ...]]:
    """The jobs rows the store writes for this description (for the floor)."""
    cluster = parse_submit_cluster(submit_text, cluster_id=cluster_id, base_dir="/s", owner="alice")
    encoded = encode_submit(cluster.cluster_ad, cluster.procs)
    hot = encoded.hot
    assert not isinstance(hot, list)
    now = time.time()
    shared = (hot.owner, hot.submitter, hot.acct_group, hot.job_prio, now)
    shared += (hot.workflow_id, hot.step_name, 0, 0.0, now)
    return [
        (f"{cluster_id}.{i}", cluster_id, i, 1, "", *shared, ad)
        for i, ad in enumerate(encoded.texts)
    ]


def sqlite_floor(rows: Sequence[tuple[Any, ...]], directory: Path) -> float:
    path = directory / f"floor-{uuid.uuid4().hex[:8]}.db"
    con = sqlite3.connect(path, isolation_level=None)
    try:
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=NORMAL")
        con.execute(f"CREATE TABLE j ({_COLUMNS.replace('id,', 'id PRIMARY KEY,', 1)})")
        con.execute("CREATE TABLE e (seq INTEGER PRIMARY KEY, job_id, time, kind)")
        started = time.perf_counter()
        con.execute("BEGIN IMMEDIATE")
        con.executemany(f"INSERT INTO j VALUES ({', '.join('?' * 16)})", rows)
        con.executemany(
            "INSERT INTO e (job_id, time, kind) VALUES (?, ?, ?)",
            [(r[0], r[9], "submitted") for r in rows],
        )
        con.execute("COMMIT")
        return time.perf_counter() - started
    finally:
        con.close()
        path.unlink(missing_ok=True)


def postgres_floor(rows: Sequence[tuple[Any, ...]], url: str) -> float:
    import psycopg

    conninfo = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(conninfo) as con:
        cur = con.cursor()
        cur.execute(
            "CREATE TEMP TABLE j (id varchar(32) PRIMARY KEY, cluster_id int, proc_id int, "
            "status smallint, substate varchar(16), owner varchar(255), "
            "submitter varchar(255), acct_group varchar(255), job_prio int, "
            "q_date float8, workflow_id varchar(255), step_name varchar(255), "
            "num_job_starts int, wall_clock float8, entered_status_at float8, ad text)"
        )
        cur.execute(
            "CREATE TEMP TABLE e (seq bigserial PRIMARY KEY, job_id varchar(32), "
            "time float8, kind varchar(32))"
        )
        con.commit()
        started = time.perf_counter()
        with cur.copy(f"COPY j ({_COLUMNS}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        with cur.copy("COPY e (job_id, time, kind) FROM STDIN") as copy:
            for row in rows:
                copy.write_row((row[0], row[9], "submitted"))
        con.commit()
        return time.perf_counter() - started


def run_store(store: Store, submit_text: str) -> tuple[Timing, Timing, Timing]:
    """parse, store and total timings of one description through the real path."""
    with timed() as total:
        with timed() as parse:
            cluster_id = store.jobs.new_cluster_id()
            cluster = parse_submit_cluster(
                submit_text, cluster_id=cluster_id, base_dir="/s", owner="alice"
            )
        with timed() as stored:
            result = store.jobs.submit_cluster(
                cluster.cluster_ad, cluster.procs, cluster_id=cluster_id
            )
    last = store.jobs.get(result.job_ids[-1])
    assert last is not None and len(result.job_ids) == len(cluster.procs)
    return parse, stored, total


def bench_database(
    name: str,
    store: Store,
    floor: Callable[[Sequence[tuple[Any, ...]]], float],
    procs: int,
) -> None:
    for label, template in FILES.items():
        submit_text = template.format(n=procs)
        parse, stored, total = run_store(store, submit_text)
        rows = rows_of(submit_text, 10_000)
        floor_s = floor(rows)
        print(
            f"{name:10} {label:8} parse {parse}  store {stored}  total {total}  "
            f"floor {floor_s:5.2f} s  total/floor {total.wall / floor_s:4.1f}x"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--procs", type=int, default=100_000)
    parser.add_argument("--database-url", default=DEFAULT_PG, help="PostgreSQL to use as well")
    args = parser.parse_args()
    print(f"queue {args.procs}: parse_submit_cluster -> store.jobs.submit_cluster")
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        with Store.open(f"sqlite:///{directory / 'skyflock.db'}") as store:
            bench_database("sqlite", store, lambda rows: sqlite_floor(rows, directory), args.procs)
    url = args.database_url
    admin = make_engine(url)
    try:
        with admin.begin() as conn:
            schema = f"submit_bench_{uuid.uuid4().hex[:8]}"
            conn.execute(text(f"CREATE SCHEMA {schema}"))
    except Exception as exc:  # any failure to connect: say so and stop
        print(f"postgresql skipped: {url} does not answer ({str(exc).splitlines()[0]})")
        return
    try:
        sep = "&" if "?" in url else "?"
        with Store.open(f"{url}{sep}options=-csearch_path%3D{schema}") as store:
            bench_database("postgresql", store, lambda rows: postgres_floor(rows, url), args.procs)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


if __name__ == "__main__":
    main()
