"""Errors the ClassAd language raises on bad input.

Evaluation never raises (bad values become `ERROR`); only reading text can
fail, and then it fails with `ClassAdSyntaxError`, which carries the line,
column and a caret excerpt so the CLI (and every other caller) can show the
user one clear message. Raised by `lexer`, `parser` and `forms`.
"""

from __future__ import annotations


def caret_excerpt(text: str, line: int, column: int) -> str:
    """The offending source line followed by a caret under `column` (both 1-based)."""
    # Lines end at "\n" only, as `position` counts them.
    lines = text.split("\n")
    src = lines[line - 1].removesuffix("\r") if 1 <= line <= len(lines) else ""
    src = src.expandtabs(1)
    return f"{src}\n{' ' * max(column - 1, 0)}^"


def position(text: str, offset: int) -> tuple[int, int]:
    """1-based (line, column) of a character offset in `text`."""
    offset = max(0, min(offset, len(text)))
    line = text.count("\n", 0, offset) + 1
    start = text.rfind("\n", 0, offset) + 1
    return line, offset - start + 1


class ClassAdSyntaxError(ValueError):
    """Text that is not valid ClassAd syntax.

    `line` and `column` are 1-based; `excerpt` is the source line with a caret
    under the column; `source` names the file (or is empty).
    """

    def __init__(
        self, message: str, line: int, column: int, excerpt: str = "", source: str = ""
    ) -> None:
        self.message = message
        self.line = line
        self.column = column
        self.excerpt = excerpt
        self.source = source
        super().__init__(self._render())

    @classmethod
    def at(cls, message: str, text: str, offset: int, source: str = "") -> ClassAdSyntaxError:
        line, column = position(text, offset)
        return cls(message, line, column, caret_excerpt(text, line, column), source)

    def with_source(self, source: str) -> ClassAdSyntaxError:
        """The same error naming the file it came from."""
        return ClassAdSyntaxError(self.message, self.line, self.column, self.excerpt, source)

    def shifted(self, text: str, line_offset: int, column_offset: int) -> ClassAdSyntaxError:
        """The same error re-positioned inside a larger `text` (for embedded expressions)."""
        line = self.line + line_offset
        column = self.column + (column_offset if self.line == 1 else 0)
        return ClassAdSyntaxError(
            self.message, line, column, caret_excerpt(text, line, column), self.source
        )

    def _render(self) -> str:
        where = f"{self.source}: " if self.source else ""
        head = f"{where}line {self.line}, column {self.column}: {self.message}"
        return f"{head}\n{self.excerpt}" if self.excerpt else head

    def __reduce__(self) -> tuple[object, ...]:
        return (
            type(self),
            (self.message, self.line, self.column, self.excerpt, self.source),
        )
