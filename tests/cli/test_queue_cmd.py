"""condor_q's -af word rule: words after -af up to the next option are attributes."""

from __future__ import annotations

import pytest

from skyflock.cli.queue_cmd import af_words_as_options


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["-af", "A", "B"], ["-af", "A", "-af", "B"]),
        (["alice", "-af", "A", "B"], ["alice", "-af", "A", "-af", "B"]),
        # ids after -af stay selectors
        (["-af", "A", "12", "12.3", "B"], ["-af", "A", "12", "12.3", "-af", "B"]),
        # an option ends the run: its value and later words are not attributes
        (["-af", "A", "-constraint", "x", "bob"], ["-af", "A", "-constraint", "x", "bob"]),
        (["-af", "A", "-long", "bob"], ["-af", "A", "-long", "bob"]),
        (["--af=A", "B"], ["--af=A", "-af", "B"]),
        (["-autoformat", "A", "B"], ["-autoformat", "A", "-af", "B"]),
        (["-af", "A", "--", "B"], ["-af", "A", "--", "B"]),
        (["bob", "12"], ["bob", "12"]),
    ],
)
def test_af_words_as_options(args: list[str], expected: list[str]) -> None:
    assert af_words_as_options(args) == expected
