"""The queue statement: every form, table-driven over in-memory files, and the
item rows compared with HTCondor's own parser (`htcondor2.Submit.itemdata`)."""

from __future__ import annotations

import os

import pytest

from skyflock.submit.errors import SubmitError, Where
from skyflock.submit.exprs import constant
from skyflock.submit.files import MemoryFiles
from skyflock.submit.queue import parse_queue, queue_rows
from skyflock.submit.reader import read_statements

W = Where("q.sub", 1)
FILES = MemoryFiles(
    {
        "/s/points.txt": "90 1.0\n91, 2.5\n\n# comment\n92\t3 extra words\n",
        "/s/data/a.dat": "",
        "/s/data/b.dat": "",
        "/s/data/c.txt": "",
        "/s/runs/r1/x": "",
        "/s/runs/r2/x": "",
    }
)


def rows(statement: str) -> tuple[tuple[str, ...], int, list[tuple[str, ...]]]:
    (st,) = read_statements(statement, "q.sub")
    spec = parse_queue(st.value, st.block, st.where, constant)
    return spec.variables, spec.count, queue_rows(spec, FILES, "/s", st.where)


CASES = [
    ("queue", (), 1, [()]),
    ("queue 5", (), 5, [()]),
    ("queue 2*3", (), 6, [()]),
    ("queue 0", (), 0, [()]),
    ("queue x in (a, b,c)", ("x",), 1, [("a",), ("b",), ("c",)]),
    ("queue 2 x in (a b)", ("x",), 2, [("a",), ("b",)]),
    ("queue in (a b)", ("Item",), 1, [("a",), ("b",)]),
    ("queue x in a b , c", ("x",), 1, [("a",), ("b",), ("c",)]),
    ("queue x in (\n a, b\n c\n)", ("x",), 1, [("a",), ("b",), ("c",)]),
    ("queue x in [1:] (a,b,c)", ("x",), 1, [("b",), ("c",)]),
    ("queue x in [::2] (a,b,c,d,e)", ("x",), 1, [("a",), ("c",), ("e",)]),
    ("queue x in [-2:] (a,b,c)", ("x",), 1, [("b",), ("c",)]),
    ("queue x,y in (a b)", ("x", "y"), 1, [("a", ""), ("b", "")]),
    (
        "queue a,b from points.txt",
        ("a", "b"),
        1,
        [("90", "1.0"), ("91", "2.5"), ("92", "3 extra words")],
    ),
    ("queue a from points.txt", ("a",), 1, [("90 1.0",), ("91, 2.5",), ("92\t3 extra words",)]),
    ("queue a b from (\n x 1\n y 2\n)", ("a", "b"), 1, [("x", "1"), ("y", "2")]),
    (
        "queue a,b,c from (\n1 2 3 4 5\n6\n)",
        ("a", "b", "c"),
        1,
        [("1", "2", "3 4 5"), ("6", "", "")],
    ),
    ("queue 3 a from [1:2] points.txt", ("a",), 3, [("91, 2.5",)]),
    ("queue matching files data/*.dat", ("Item",), 1, [("data/a.dat",), ("data/b.dat",)]),
    ("queue f matching data/*", ("f",), 1, [("data/a.dat",), ("data/b.dat",), ("data/c.txt",)]),
    ("queue d matching dirs runs/*", ("d",), 1, [("runs/r1/",), ("runs/r2/",)]),
    (
        "queue f matching files *.txt data/*.txt",
        ("f",),
        1,
        [("points.txt",), ("data/c.txt",)],
    ),
    ("queue f matching files nothing*", ("f",), 1, []),
]


@pytest.mark.parametrize(("statement", "variables", "count", "expected"), CASES)
def test_queue_forms(
    statement: str, variables: tuple[str, ...], count: int, expected: list[tuple[str, ...]]
) -> None:
    assert rows(statement) == (variables, count, expected)


@pytest.mark.parametrize(
    ("statement", "message"),
    [
        ("queue -1", "negative"),
        ("queue a b c", "is not an integer"),
        ("queue 1.5", "is not an integer"),
        ("queue x in (a, b", "missing their closing ')'"),
        ("queue x from", "needs a file name"),
        ("queue x matching", "needs at least one file pattern"),
        ("queue x in", "needs a list of items"),
        ("queue x, x in (a)", "twice"),
        ("queue x in [1:2 (a)", "bad slice"),
        ("queue x in [::0] (a)", "step cannot be 0"),
        ("queue x from missing.txt", "cannot read queue items"),
        ("queue 2 x 3 in (a)", "'3' is not a variable name"),
    ],
)
def test_queue_errors(statement: str, message: str) -> None:
    with pytest.raises(SubmitError) as info:
        rows(statement)
    assert message in info.value.message
    assert info.value.line == 1


INLINE = [
    c for c in CASES if "from points" not in c[0] and "matching" not in c[0] and "[" not in c[0]
]


@pytest.mark.parametrize(("statement", "variables", "count", "expected"), INLINE)
def test_items_agree_with_htcondor(
    statement: str, variables: tuple[str, ...], count: int, expected: list[tuple[str, ...]]
) -> None:
    os.environ.setdefault("CONDOR_CONFIG", "/dev/null")
    htcondor2 = pytest.importorskip("htcondor2")
    submit = htcondor2.Submit("executable = /bin/true\n" + statement + "\n")
    items = list(submit.itemdata() or [])
    theirs = [tuple(item[v] for v in variables) for item in items]
    assert theirs == [r for r in expected if r != ()]
