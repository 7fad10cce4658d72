"""Errors a person must fix, raised by the manager facade and turned into HTTP answers.

The API maps a `UserError` to JSON `{"error": message}` with its `status`; the
CLI prints the message and exits 1. Expected outcomes of the loop itself (a job
that fails, a start that fails) are events and hold reasons, never these.
Neighbours: `manager.service` raises them; `api/` and `cli/` catch them.
"""

from __future__ import annotations


class UserError(Exception):
    """A request the manager refuses; `message` says what to change."""

    status: int = 400

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status

    def __str__(self) -> str:
        return self.message


class BadInput(UserError):
    """Malformed input: a submit file, a constraint, an expression (400)."""

    status = 400


class NotFound(UserError):
    """An unknown job id or submitter (404)."""

    status = 404


class Conflict(UserError):
    """An illegal transition, such as releasing a running job (409)."""

    status = 409


class TooLarge(UserError):
    """A request beyond the server's limits (413)."""

    status = 413
