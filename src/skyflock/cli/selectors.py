"""Which jobs a command means: condor_q-style selectors plus a constraint.

Positional selectors are job ids (`12.0`), cluster ids (`12`) or owner names
(`alice`), as `condor_q`/`condor_rm` take them; `-constraint` adds a ClassAd
expression. `selection()` turns them into what the API takes: exact job ids
when that is all there is (so unknown ids and illegal transitions come back as
errors), else one constraint.
Neighbours: `queue_cmd`, `actions_cmd`, `history_cmd`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

JOB_ID = re.compile(r"^\d+\.\d+$")
CLUSTER_ID = re.compile(r"^\d+$")
OWNER = re.compile(r"^[A-Za-z_][\w.@-]*$")


class SelectorError(ValueError):
    pass


@dataclass(frozen=True)
class Chosen:
    ids: tuple[str, ...] = ()
    constraint: str | None = None

    @property
    def empty(self) -> bool:
        return not self.ids and not self.constraint


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def selection(selectors: Sequence[str], constraint: str | None = None) -> Chosen:
    """Job ids alone when only exact ids are given; else one ClassAd constraint."""
    ids: list[str] = []
    clauses: list[str] = []
    for sel in selectors:
        if JOB_ID.match(sel):
            ids.append(sel)
            cluster, _, proc = sel.partition(".")
            clauses.append(f"(ClusterId == {int(cluster)} && ProcId == {int(proc)})")
        elif CLUSTER_ID.match(sel):
            clauses.append(f"ClusterId == {int(sel)}")
        elif OWNER.match(sel):
            clauses.append(f"Owner == {_quote(sel)}")
        else:
            raise SelectorError(f"{sel!r}: not a job id (12.0), a cluster id (12) or an owner name")
    if constraint is not None and not constraint.strip():
        raise SelectorError("-constraint: the expression is empty")
    if constraint:
        # checked here so the caret points into the text as typed, not the combined one
        from skyflock.classad import ClassAdSyntaxError, parse

        try:
            parse(constraint)
        except ClassAdSyntaxError as exc:
            raise SelectorError(f"-constraint: {exc}") from None
    if len(ids) == len(clauses) and not constraint:
        return Chosen(ids=tuple(ids))
    parts = []
    if clauses:
        parts.append(clauses[0] if len(clauses) == 1 else "(" + " || ".join(clauses) + ")")
    if constraint:
        parts.append(f"({constraint})")
    return Chosen(constraint=" && ".join(parts))
