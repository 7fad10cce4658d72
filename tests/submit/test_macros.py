"""Macro expansion: table-driven, and the same table through HTCondor's own
submit-language implementation (`htcondor2.Submit.expand`, a test-only
dependency) where the two must agree."""

from __future__ import annotations

import os

import pytest

from skyflock.submit.errors import SubmitError, SubmitWarning, Where
from skyflock.submit.exprs import constant
from skyflock.submit.macros import (
    ANY,
    Expander,
    MacroTable,
    path_piece,
    references,
    substitute_self,
)

W = Where("t.sub", 1)
DEFS = {
    "p": "/a/b/c/file.tar.gz",
    "q": "rel/file.txt",
    "r": "noslash",
    "x": "3*4",
    "y": "1.5",
    "z": "2.0/3",
    "n": "7",
    "list": "red, green, blue",
    "outer": "<$(inner)>",
    "inner": "$(n)$(n)",
}


def expander(
    env: dict[str, str] | None = None, warnings: list[SubmitWarning] | None = None
) -> Expander:
    table = MacroTable()
    for k, v in DEFS.items():
        table.set(k, v, W)
    return Expander(
        table,
        defaults={"Cluster": "1", "Process": "0", "DOLLAR": "$"},
        environ=env or {"HOME": "/home/alice"},
        base_dir="/sub",
        evaluate=constant,
        warnings=warnings,
    )


# (text, expected) -- every row is also checked against HTCondor below unless marked
CASES = [
    ("$(p)", "/a/b/c/file.tar.gz"),
    ("$(P)", "/a/b/c/file.tar.gz"),
    ("$(outer)", "<77>"),
    ("$(undefined:hello world)", "hello world"),
    ("<$(undefined)>", "<>"),
    ("$(n:)", "7"),
    ("$Fx(p)", ".gz"),
    ("$Fn(p)", "file.tar"),
    ("$Fnx(p)", "file.tar.gz"),
    ("$Fp(p)", "/a/b/c/"),
    ("$Fd(p)", "c/"),
    ("$Fdd(p)", "b/c/"),
    ("$Fdb(p)", "c"),
    ("$Fpb(p)", "/a/b/c"),
    ("$Fq(p)", '"/a/b/c/file.tar.gz"'),
    ("$Fqa(p)", "'/a/b/c/file.tar.gz'"),
    ("$Fd(q)", "rel/"),
    ("<$Fp(r)>", "<>"),
    ("$INT(x)", "12"),
    ("$INT(x,%05d)", "00012"),
    ("$INT(y)", "1"),
    ("$REAL(x)", "12"),
    ("$REAL(y)", "1.5"),
    ("$REAL(x,%.3f)", "12.000"),
    ("$REAL(z)", "0.6666666666666666"),
    ("$ENV(HOME)", "/home/alice"),
    ("$ENV(NOPE_XYZ:dflt)", "dflt"),
    ("$ENV(NOPE_XYZ)", "UNDEFINED"),
    ("$SUBSTR(p,1,3)", "a/b"),
    ("$SUBSTR(p,-3)", ".gz"),
    ("$CHOICE(1,a,b,c)", "b"),
    ("$CHOICE(2,list)", "blue"),
    ("$(DOLLAR)(p)", "$(p)"),
    ("$$(Memory)", "$$(Memory)"),
    ("$$([Memory * 2])", "$$([Memory * 2])"),
    ("cost $5 and $ alone", "cost $5 and $ alone"),
    ("$(Cluster).$(Process)", "1.0"),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_expand(text: str, expected: str) -> None:
    assert expander().expand(text, W) == expected


def _htcondor_expand(text: str) -> str:
    os.environ.setdefault("CONDOR_CONFIG", "/dev/null")
    htcondor2 = pytest.importorskip("htcondor2")
    body = "".join(f"{k} = {v}\n" for k, v in DEFS.items())
    submit = htcondor2.Submit(body + f"probe = [{text}]\n")
    return str(submit.expand("probe"))[1:-1]


# HTCondor's Python binding has no $(Cluster) of its own choosing and reads
# the real environment, so those rows are ours only.
ORACLE = [(t, e) for t, e in CASES if "ENV" not in t and "Cluster" not in t]


@pytest.mark.parametrize(("text", "expected"), ORACLE)
def test_expand_agrees_with_htcondor(text: str, expected: str) -> None:
    assert _htcondor_expand(text) == expected


def test_unset_environment_variable_warns() -> None:
    warnings: list[SubmitWarning] = []
    expander(warnings=warnings).expand("$ENV(NOPE)", W)
    assert [w.message for w in warnings] == ["environment variable 'NOPE' is not set"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("$(p", "'$(' without a closing ')'"),
        ("$INT(p)", "is not a number"),
        ("$INT(x,%q)", "bad format"),
        ("$CHOICE(5,a,b)", "outside 0..1"),
        ("$CHOICE(z,a,b)", "is not an integer"),
        ("$SUBSTR(p)", "expected $SUBSTR(name, start[, length])"),
        ("$RANDOM_CHOICE(a,b)", "not supported"),
    ],
)
def test_expand_errors(text: str, message: str) -> None:
    with pytest.raises(SubmitError) as info:
        expander().expand(text, W)
    assert message in info.value.message
    assert (info.value.file, info.value.line) == ("t.sub", 1)


def test_self_reference_loop_is_an_error() -> None:
    table = MacroTable()
    table.set("a", "$(b)", W)
    table.set("b", "$(a)", Where("t.sub", 2))
    with pytest.raises(SubmitError, match="refers to itself"):
        Expander(table).expand("$(a)", W)


def test_live_values_win_over_definitions() -> None:
    base = expander()
    live = base.with_live({"n": "live"})
    assert live.expand("$(n)", W) == "live"
    assert base.expand("$(n)", W) == "7"


def test_full_path_helper() -> None:
    assert path_piece("rel/file.txt", "f", "/sub") == "/sub/rel/file.txt"
    assert path_piece("/abs/file.txt", "f", "/sub") == "/abs/file.txt"
    assert path_piece("a/b.c", "fp", "/sub") == "/sub/a/"


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("plain", set()),
        ("$(a) $(B:default)", {"a", "b"}),
        ("$INT(count,%d) $Fnx(file)", {"count", "d", "file"}),
        ("$(x$(y))", {"y", ANY}),
    ],
)
def test_references(text: str, names: set[str]) -> None:
    assert references(text) >= names
    if not names:
        assert references(text) == set()


def test_substitute_self() -> None:
    assert substitute_self("$(PATH):/x", "path", "/usr/bin") == "/usr/bin:/x"
    assert substitute_self("$(path:/bin):/x", "path", None) == "/bin:/x"
    assert substitute_self("$(other)", "path", "/usr/bin") == "$(other)"
