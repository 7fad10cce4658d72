"""Malformed submit descriptions: each tests/submit/malformed/*.sub starts with
`# error: FILE:LINE: text` and must fail with exactly that position and a
message containing the text."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from skyflock.submit import SubmitError, parse_submit
from tests.submit.conftest import BASE, ENVIRON, MALFORMED, memory_files

CASES = sorted(MALFORMED.glob("*.sub"))
_HEADER = re.compile(r"^# error: (?P<file>[^:]+):(?P<line>\d+): (?P<text>.+)$")


def expectation(path: Path) -> tuple[str, int, str]:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    m = _HEADER.match(first)
    assert m, f"{path.name} does not start with '# error: FILE:LINE: text'"
    return m["file"], int(m["line"]), m["text"]


def test_there_are_enough_malformed_files() -> None:
    assert len(CASES) >= 20


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_malformed(path: Path) -> None:
    file, line, text = expectation(path)
    with pytest.raises(SubmitError) as info:
        parse_submit(
            path.read_text(encoding="utf-8"),
            base_dir=BASE,
            filename=path.name,
            environ=ENVIRON,
            owner="alice",
            files=memory_files(MALFORMED),
        )
    error = info.value
    assert (error.file, error.line) == (file, line), str(error)
    assert text in error.message, str(error)
    assert str(error) == f"{file}:{line}: {error.message}"
    assert "\n" not in str(error)
