"""The `environment` and `getenv` commands -> the job's `Environment`.

Old syntax: `NAME=value;NAME=value` (semicolon-separated; values cannot hold a
`;`). New syntax: the value wrapped in double quotes, blank-separated
`NAME=value` entries, single quotes around an entry or value that holds
blanks (`''` for a literal `'`), `""` for a literal `"`. Both land in
`Environment` in HTCondor's V2 raw form (`arguments.join_v2`); condor_submit
writes old-syntax input to the legacy `Env` attribute, skyflock normalises it.

`getenv = true` copies the submitting environment (given as a mapping, never
read here) into the job's; `getenv = NAME, PREFIX*` copies the matching
variables. Entries written in `environment` win over copied ones, as in
HTCondor. Pure; `ValueError`s become `SubmitError`s in the caller.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping

from skyflock.submit.arguments import join_v2, tokenize_v2

_VAR = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def parse_environment(text: str) -> dict[str, str]:
    """NAME -> value, in the order written."""
    value = text.strip()
    entries: list[str]
    if value.startswith('"'):
        if len(value) < 2 or not value.endswith('"'):
            raise ValueError(
                "new-syntax environment starts with a double quote and must end with one"
            )
        entries = tokenize_v2(value[1:-1], doubled_double_quotes=True)
    else:
        entries = [e.strip() for e in value.split(";") if e.strip()]
    result: dict[str, str] = {}
    for entry in entries:
        name, eq, val = entry.partition("=")
        if not eq or not name:
            raise ValueError(f"environment entry '{entry}' is not NAME=value")
        result[name] = val
    return result


def getenv_selection(text: str, environ: Mapping[str, str]) -> tuple[bool | None, dict[str, str]]:
    """(GetEnv attribute value, variables copied). `getenv = true` gives (True,
    everything); `false` gives (False, {}); a list of names/patterns gives
    (None, the matches)."""
    value = text.strip()
    lowered = value.lower()
    if lowered in ("true", "yes", "1", "t", "y"):
        return True, dict(sorted(environ.items()))
    if lowered in ("false", "no", "0", "f", "n", ""):
        return False, {}
    patterns = [p for p in re.split(r"[\s,]+", value) if p]
    for pattern in patterns:
        if not re.fullmatch(r"[A-Za-z0-9_*?\[\]]+", pattern):
            raise ValueError(
                f"getenv: '{pattern}' is neither true/false nor a variable name or pattern"
            )
    chosen = {
        name: environ[name]
        for name in sorted(environ)
        if any(fnmatch.fnmatchcase(name, p) for p in patterns)
    }
    return None, chosen


def format_environment(env: Mapping[str, str]) -> str:
    """The V2 raw `Environment` attribute value."""
    return join_v2([f"{k}={v}" for k, v in env.items()])


def split_environment(value: str) -> dict[str, str]:
    """NAME -> value of an `Environment` (V2 raw) attribute."""
    result: dict[str, str] = {}
    for entry in tokenize_v2(value, doubled_double_quotes=False):
        name, _, val = entry.partition("=")
        result[name] = val
    return result
