"""The HTCondor submit-description language -> skyflock job ClassAds.

    from skyflock.submit import parse_submit, parse_submit_cluster, SubmitError
    ads = parse_submit(text, cluster_id=7, base_dir="/home/alice/scan")
    cluster = parse_submit_cluster(text, cluster_id=7, base_dir="/home/alice/scan")
    store.jobs.submit_cluster(cluster.cluster_ad, cluster.procs, cluster_id=7)

`parse_submit` returns one ClassAd per job, with HTCondor's attribute names;
`parse_submit_with_warnings` also returns the warnings (unknown commands...).
`parse_submit_cluster` returns the same jobs the way HTCondor's schedd keeps
them, and much faster for a big `queue`: one shared cluster ad plus, per
job, a small dict of the attributes that depend on per-job macros, and the
warnings (`SubmitCluster`, see `cluster.py`; `.ads()` gives the full ads).
Mistakes raise `SubmitError`, whose text is `file:line: message`. The package
is pure except `files.py`, the one module that reads the filesystem (for
`include`, `queue ... from FILE` and `queue ... matching`); pass `files=` to
serve them from elsewhere. The modules: `reader` (lines -> statements),
`macros`, `queue`, `arguments`, `environment`, `units`, `commands` (commands ->
attributes), `builder` (the jobs of one queue statement), `cluster` (the
result's shape), `interpreter` (running a file).
"""

from __future__ import annotations

from collections.abc import Mapping

from skyflock.classad import ClassAd
from skyflock.submit.cluster import Numbering, SubmitCluster
from skyflock.submit.errors import SubmitError, SubmitWarning
from skyflock.submit.files import DiskFiles, MemoryFiles, SubmitFiles
from skyflock.submit.interpreter import Interpreter, SubmitResult


def parse_submit_cluster(
    text: str,
    *,
    cluster_id: int = 1,
    base_dir: str = ".",
    filename: str = "<submit>",
    environ: Mapping[str, str] | None = None,
    owner: str | None = None,
    files: SubmitFiles | None = None,
) -> SubmitCluster:
    """The jobs of a submit description as one cluster ad plus each job's own
    values, and the warnings; the arguments are those of
    `parse_submit_with_warnings`. Mistakes raise `SubmitError`."""
    return _interpreter(cluster_id, base_dir, filename, environ, owner, files).run_cluster(text)


def _interpreter(
    cluster_id: int,
    base_dir: str,
    filename: str,
    environ: Mapping[str, str] | None,
    owner: str | None,
    files: SubmitFiles | None,
) -> Interpreter:
    return Interpreter(
        files=files if files is not None else DiskFiles(),
        base_dir=base_dir,
        environ=dict(environ or {}),
        owner=owner,
        cluster_id=cluster_id,
        filename=filename,
    )


def parse_submit_with_warnings(
    text: str,
    *,
    cluster_id: int = 1,
    base_dir: str = ".",
    filename: str = "<submit>",
    environ: Mapping[str, str] | None = None,
    owner: str | None = None,
    files: SubmitFiles | None = None,
) -> SubmitResult:
    """The jobs of a submit description and the warnings it raised.

    `base_dir` is the submit directory (relative paths in the description are
    relative to it; pass an absolute one to get absolute `Cmd`/`Iwd`);
    `filename` names the description in messages; `environ` is what `getenv`
    and `$ENV()` see (nothing when omitted); `owner` becomes `Owner` and the
    default `accounting_group_user`.
    """
    return _interpreter(cluster_id, base_dir, filename, environ, owner, files).run(text)


def parse_submit(
    text: str,
    *,
    cluster_id: int = 1,
    base_dir: str = ".",
    filename: str = "<submit>",
    environ: Mapping[str, str] | None = None,
    owner: str | None = None,
    files: SubmitFiles | None = None,
) -> list[ClassAd]:
    """The job ads of a submit description (warnings are dropped; see
    `parse_submit_with_warnings`)."""
    return parse_submit_with_warnings(
        text,
        cluster_id=cluster_id,
        base_dir=base_dir,
        filename=filename,
        environ=environ,
        owner=owner,
        files=files,
    ).jobs


__all__ = [
    "DiskFiles",
    "MemoryFiles",
    "Numbering",
    "SubmitCluster",
    "SubmitError",
    "SubmitFiles",
    "SubmitResult",
    "SubmitWarning",
    "parse_submit",
    "parse_submit_cluster",
    "parse_submit_with_warnings",
]
