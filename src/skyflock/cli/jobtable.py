"""How the CLI shows job ads: condor_q / condor_history tables, totals, -af, -long.

Ads arrive from the API as ClassAd text (`form=new`) and are rebuilt as ClassAds
here so `-af` can evaluate any expression against each job, as condor_q does.
Time comes in as an argument (`now`) so the formatting is testable. The tables
are plain text, as condor_q's are (no rich here: `skyflock q` is polled by
scripts and people, and rich's import would be most of its start-up time).
Neighbours: `queue_cmd`, `history_cmd` print through these; `api.schemas`
writes the JSON.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from skyflock.classad import ERROR, UNDEFINED, ClassAd, ClassAdSyntaxError, parse
from skyflock.cli.texttable import text_table

STATUS_LETTER = {1: "I", 2: "R", 3: "X", 4: "C", 5: "H", 6: "E", 7: "S"}


def ads_from_answer(items: Iterable[str | dict[str, Any]]) -> list[ClassAd]:
    """The ads of an API answer asked with `form=new` (ClassAd text per ad)."""
    return [ClassAd.parse(i if isinstance(i, str) else json.dumps(i)) for i in items]


def json_list(ads: Sequence[ClassAd]) -> str:
    """The ads as a JSON list in HTCondor's JSON form (expressions keep their marker)."""
    if not ads:
        return "[]"
    return "[\n" + ",\n".join(ad.format("json") for ad in ads) + "\n]"


def _num(ad: ClassAd, name: str) -> float | None:
    value = ad.eval(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _str(ad: ClassAd, name: str, default: str = "") -> str:
    value = ad.eval(name)
    return value if isinstance(value, str) else default


def job_id(ad: ClassAd) -> str:
    return f"{ad.eval('ClusterId')}.{ad.eval('ProcId')}"


def status_of(ad: ClassAd) -> int:
    value = ad.eval("JobStatus")
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def duration(seconds: float) -> str:
    """condor_q's RUN_TIME form: D+HH:MM:SS."""
    s = max(0, int(seconds))
    return f"{s // 86400}+{s % 86400 // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def when(stamp: float | None) -> str:
    if stamp is None:
        return "-"
    t = time.localtime(stamp)
    return f"{t.tm_mon}/{t.tm_mday} {t.tm_hour:02d}:{t.tm_min:02d}"


def run_time(ad: ClassAd, now: float) -> float:
    total = _num(ad, "RemoteWallClockTime") or 0.0
    if status_of(ad) == 2:
        start = _num(ad, "JobCurrentStartDate")
        if start is not None:
            total += max(0.0, now - start)
    return total


def command(ad: ClassAd) -> str:
    cmd = _str(ad, "Cmd", "-").rsplit("/", 1)[-1]
    args = _str(ad, "Arguments") or _str(ad, "Args")
    return f"{cmd} {args}".strip()


def owner(ad: ClassAd) -> str:
    return _str(ad, "Owner", "-")


def queue_table(ads: Sequence[ClassAd], now: float) -> str:
    """condor_q -nobatch: one row per job."""
    columns = ("ID", "OWNER", "SUBMITTED", "RUN_TIME", "ST", "PRI", "SIZE", "CMD")
    rows: list[tuple[str, ...]] = []
    for ad in ads:
        memory = _num(ad, "RequestMemory")
        prio = ad.eval("JobPrio")
        rows.append(
            (
                job_id(ad),
                owner(ad),
                when(_num(ad, "QDate")),
                duration(run_time(ad, now)),
                STATUS_LETTER.get(status_of(ad), "?"),
                str(prio) if isinstance(prio, int) else "0",
                f"{memory:.1f}" if memory is not None else "0.0",
                command(ad),
            )
        )
    return text_table(columns, {"RUN_TIME", "PRI", "SIZE"}, rows)


def history_table(ads: Sequence[ClassAd]) -> str:
    """condor_history: finished jobs with their end and exit code (`sig N` for a signal death)."""
    columns = ("ID", "OWNER", "SUBMITTED", "RUN_TIME", "ST", "COMPLETED", "EXIT", "CMD")
    rows: list[tuple[str, ...]] = []
    for ad in ads:
        rows.append(
            (
                job_id(ad),
                owner(ad),
                when(_num(ad, "QDate")),
                duration(run_time(ad, 0.0)),
                STATUS_LETTER.get(status_of(ad), "?"),
                when(_num(ad, "CompletionDate") or _num(ad, "EnteredCurrentStatus")),
                exit_text(ad),
                command(ad),
            )
        )
    return text_table(columns, {"RUN_TIME", "EXIT"}, rows)


def exit_text(ad: ClassAd) -> str:
    """The EXIT column: the exit code, `sig N` for a run killed by signal N, else '-'."""
    signal = ad.eval("ExitSignal")
    if ad.eval("ExitBySignal") is True and isinstance(signal, int):
        return f"sig {signal}"
    code = ad.eval("ExitCode")
    return str(code) if isinstance(code, int) and not isinstance(code, bool) else "-"


def totals(label: str, by_status: Mapping[int, int]) -> str:
    """condor_q's totals line for `label` ("query", "all users") from counts by JobStatus."""
    c = {s: by_status.get(s, 0) for s in STATUS_LETTER}
    return (
        f"Total for {label}: {sum(by_status.values())} jobs; {c[4]} completed, {c[3]} removed, "
        f"{c[1]} idle, {c[2]} running, {c[5]} held, {c[7]} suspended"
    )


def totals_line(ads: Sequence[ClassAd]) -> str:
    """condor_q's totals line of the jobs shown."""
    counts: dict[int, int] = {}
    for ad in ads:
        counts[status_of(ad)] = counts.get(status_of(ad), 0) + 1
    return totals("query", counts)


def format_value(value: object) -> str:
    """A value as -af prints it: strings bare, booleans and undefined in ClassAd words."""
    if value is UNDEFINED:
        return "undefined"
    if value is ERROR:
        return "error"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, ClassAd):
        return value.format("new")
    if isinstance(value, list):
        return "{ " + ", ".join(format_value(v) for v in value) + " }"
    return str(value)


def autoformat(ads: Sequence[ClassAd], expressions: Sequence[str]) -> list[str]:
    """-af: one line per job, each expression evaluated against it, space-separated."""
    compiled = []
    for text in expressions:
        try:
            compiled.append(parse(text))
        except ClassAdSyntaxError as exc:
            raise ValueError(f"-af {text}: {exc}") from None
    return [" ".join(format_value(e.eval(ad)) for e in compiled) for ad in ads]


def long_form(ads: Sequence[ClassAd]) -> str:
    """-long: each ad in the old `Name = expr` form, a blank line between ads."""
    return "\n\n".join(ad.format("old").rstrip("\n") for ad in ads)


def other_form(
    ads: Sequence[ClassAd], *, as_json: bool, expressions: Sequence[str], long: bool
) -> list[str] | None:
    """The lines of `--json`, `-af` or `-long` output, or None for the command's own table.

    Raises ValueError (with the expression and caret) for a bad -af expression.
    """
    if as_json:
        return [json_list(ads)]
    if expressions:
        return autoformat(ads, expressions)
    if long:
        return [long_form(ads)] if ads else []
    return None
