"""Errors and warnings of the submit language, each naming `file:line`.

Every mistake in a submit description becomes one `SubmitError` whose text is
`file:line: message`, so the CLI can print it as it is and exit non-zero. Things
HTCondor accepts silently but a person probably did not mean (an unknown
command, an unset environment variable) become `SubmitWarning`s collected on the
result instead. Neighbours: every other module of `skyflock.submit` raises these.
"""

from __future__ import annotations

from dataclasses import dataclass


class SubmitError(ValueError):
    """A mistake in a submit description; `str()` is `file:line: message`."""

    def __init__(self, file: str, line: int, message: str) -> None:
        self.file = file
        self.line = line
        self.message = message
        super().__init__(f"{file}:{line}: {message}" if line > 0 else f"{file}: {message}")


@dataclass(frozen=True, slots=True)
class SubmitWarning:
    """Something accepted but worth telling the user about."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}" if self.line > 0 else self.message


@dataclass(frozen=True, slots=True)
class Where:
    """The source position of a statement or macro definition."""

    file: str
    line: int

    def error(self, message: str) -> SubmitError:
        return SubmitError(self.file, self.line, message)

    def warning(self, message: str) -> SubmitWarning:
        return SubmitWarning(self.file, self.line, message)
