"""The HTCondor submit-description language -> skyflock job ClassAds.

    from skyflock.submit import parse_submit, parse_submit_with_warnings, SubmitError
    ads = parse_submit(text, cluster_id=7, base_dir="/home/alice/scan")

`parse_submit` returns one ClassAd per job, with HTCondor's attribute names;
`parse_submit_with_warnings` also returns the warnings (unknown commands...).
Mistakes raise `SubmitError`, whose text is `file:line: message`. The package
is pure except `files.py`, the one module that reads the filesystem (for
`include`, `queue ... from FILE` and `queue ... matching`); pass `files=` to
serve them from elsewhere. The modules: `reader` (lines -> statements),
`macros`, `queue`, `arguments`, `environment`, `units`, `commands` (commands ->
attributes), `builder` (the per-job ads), `interpreter` (running a file).
"""

from __future__ import annotations

from collections.abc import Mapping

from skyflock.classad import ClassAd
from skyflock.submit.errors import SubmitError, SubmitWarning
from skyflock.submit.files import DiskFiles, MemoryFiles, SubmitFiles
from skyflock.submit.interpreter import Interpreter, SubmitResult


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
    interpreter = Interpreter(
        files=files if files is not None else DiskFiles(),
        base_dir=base_dir,
        environ=dict(environ or {}),
        owner=owner,
        cluster_id=cluster_id,
        filename=filename,
    )
    return interpreter.run(text)


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
    "SubmitError",
    "SubmitFiles",
    "SubmitResult",
    "SubmitWarning",
    "parse_submit",
    "parse_submit_with_warnings",
]
