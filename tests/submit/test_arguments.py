"""Arguments (old and new syntax), environment (both syntaxes, getenv) and unit
suffixes: table-driven."""

from __future__ import annotations

import pytest

from skyflock.submit.arguments import join_v2, parse_arguments, split_args, split_arguments
from skyflock.submit.environment import (
    format_environment,
    getenv_selection,
    parse_environment,
    split_environment,
)
from skyflock.submit.units import KIB, MIB, parse_quantity


@pytest.mark.parametrize(
    ("text", "attr", "args"),
    [
        ("a b  c", "Args", ["a", "b", "c"]),
        ('one \\"two\\" three', "Args", ["one", '"two"', "three"]),
        ("it's", "Args", ["it's"]),
        ("", "Args", []),
        ('"a b c"', "Arguments", ["a", "b", "c"]),
        ("\"one 'two words' three\"", "Arguments", ["one", "two words", "three"]),
        ("\"'it''s' x\"", "Arguments", ["it's", "x"]),
        ('"say ""hi"""', "Arguments", ["say", '"hi"']),
        ("\"''\"", "Arguments", [""]),
        ("\"a'b c'd\"", "Arguments", ["ab cd"]),
        ('""', "Arguments", []),
    ],
)
def test_parse_arguments(text: str, attr: str, args: list[str]) -> None:
    assert parse_arguments(text) == (attr, args)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('a "b"', "must be written"),
        ('"a b', "must end with one"),
        ('"a \'b"', "never closed"),
        ('"a " b"', "must be doubled"),
    ],
)
def test_argument_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_arguments(text)


@pytest.mark.parametrize(
    "args",
    [["a"], ["two words", "x"], ["it's"], [""], ['"q"', "'"], ["tab\there"]],
)
def test_v2_raw_round_trip(args: list[str]) -> None:
    assert split_arguments(join_v2(args)) == args


def test_v1_split() -> None:
    assert split_args("a  b c") == ["a", "b", "c"]


@pytest.mark.parametrize(
    ("text", "env"),
    [
        ("A=1;B=two words;C=", {"A": "1", "B": "two words", "C": ""}),
        ("A=1; B=2 ;", {"A": "1", "B": "2"}),
        ("X=a=b", {"X": "a=b"}),
        ("\"A=1 B='x y' C=\"\"q\"\" D='it''s'\"", {"A": "1", "B": "x y", "C": '"q"', "D": "it's"}),
        ("\"'A=spaced value'\"", {"A": "spaced value"}),
    ],
)
def test_parse_environment(text: str, env: dict[str, str]) -> None:
    assert parse_environment(text) == env
    assert split_environment(format_environment(env)) == env


@pytest.mark.parametrize(
    ("text", "message"), [("FOO", "not NAME=value"), ("=1", "not NAME=value"), ('"A=1', "must end")]
)
def test_environment_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_environment(text)


ENV = {"PATH": "/bin", "HOME": "/h", "CONDA_A": "1", "CONDA_B": "2"}


@pytest.mark.parametrize(
    ("text", "flag", "names"),
    [
        ("true", True, ["CONDA_A", "CONDA_B", "HOME", "PATH"]),
        ("False", False, []),
        ("PATH", None, ["PATH"]),
        ("PATH, CONDA_*", None, ["CONDA_A", "CONDA_B", "PATH"]),
        ("NOPE", None, []),
    ],
)
def test_getenv(text: str, flag: bool | None, names: list[str]) -> None:
    got_flag, copied = getenv_selection(text, ENV)
    assert got_flag == flag
    assert list(copied) == names


def test_getenv_rejects_garbage() -> None:
    with pytest.raises(ValueError, match="getenv"):
        getenv_selection("a=b", ENV)


@pytest.mark.parametrize(
    ("text", "unit", "value"),
    [
        ("100", MIB, 100),
        ("64M", MIB, 64),
        ("64MB", MIB, 64),
        ("64mb", MIB, 64),
        ("1.5 GB", MIB, 1536),
        ("2G", MIB, 2048),
        ("4T", MIB, 4 * 1024 * 1024),
        ("1TB", KIB, 1024**3),
        ("512K", MIB, 1),
        ("1000B", MIB, 1),
        ("10M", KIB, 10240),
        ("100", KIB, 100),
        ("1K", KIB, 1),
        ("0.5", MIB, 1),
        ("12 parsecs", MIB, None),
        ("ifThenElse(x, 1, 2)", MIB, None),
        ("", MIB, None),
    ],
)
def test_quantity(text: str, unit: int, value: int | None) -> None:
    assert parse_quantity(text, unit) == value
