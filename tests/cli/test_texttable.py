"""Plain-text tables: padded, never cut, multi-line headers, a footer after a rule."""

from __future__ import annotations

from skyflock.cli.texttable import text_table


def test_cells_are_padded_and_never_cut() -> None:
    long = "x" * 150
    table = text_table(("A", "Num"), {"Num"}, [("a", "1"), (long, "22")])
    assert table.splitlines() == [
        "A" + " " * 149 + "   Num",
        "─" * 156,
        "a" + " " * 149 + "     1",
        long + "    22",
    ]


def test_multi_line_headers_are_bottom_aligned_and_footer_follows_a_rule() -> None:
    table = text_table(
        ("Name", "Eff.\nPrio"), {"Eff.\nPrio"}, [("bob", "1.50")], footer=["Total", "9"]
    )
    assert table.splitlines() == [
        "        Eff.",
        "Name    Prio",
        "────────────",
        "bob     1.50",
        "────────────",
        "Total      9",
    ]
