"""Plain-text tables as HTCondor's tools print them: padded columns, a rule, never cut.

`condor_q`, `condor_status` and `condor_userprio` print their tables at full
width whatever the terminal, so a script or a pipe sees every character.
rich's tables shrink to the terminal (80 columns in a pipe) and cut cells
with an ellipsis; they also cost most of a client command's start-up. Every
table the CLI prints is made here instead.
Neighbours: `cli.jobtable` (q, history), `cli.status_cmd`, `cli.userprio_cmd`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

GAP = "   "


def text_table(
    columns: Sequence[str],
    right: Iterable[str],
    rows: Iterable[Sequence[str]],
    *,
    footer: Sequence[str] | None = None,
) -> str:
    """Columns padded to their widest cell, three spaces apart, a rule under the header;
    the `right` ones right-justified. A header may take several lines (`"Eff.\\nPrio"`),
    aligned at the bottom; a `footer` row follows a second rule."""
    aligned_right = set(right)
    body = [list(r) for r in rows]
    heads = [c.split("\n") for c in columns]
    depth = max(len(h) for h in heads)
    heads = [[""] * (depth - len(h)) + h for h in heads]
    cells = [*body, *([list(footer)] if footer is not None else [])]
    widths = [
        max([*(len(line) for line in head), *(len(r[i]) for r in cells)])
        for i, head in enumerate(heads)
    ]

    def line(values: Sequence[str]) -> str:
        return GAP.join(
            cell.rjust(w) if name in aligned_right else cell.ljust(w)
            for name, cell, w in zip(columns, values, widths, strict=True)
        ).rstrip()

    rule = "─" * (sum(widths) + len(GAP) * (len(widths) - 1))
    out = [line([h[d] for h in heads]) for d in range(depth)]
    out += [rule, *(line(r) for r in body)]
    if footer is not None:
        out += [rule, line(footer)]
    return "\n".join(out)
