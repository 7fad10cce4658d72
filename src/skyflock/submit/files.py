"""The one place the submit language touches the filesystem.

A submit description reads other files in three ways: `include : file`,
`queue ... from FILE` and `queue ... matching PATTERN`. Everything else in
`skyflock.submit` is a pure function of text, so the reads go through the small
`SubmitFiles` port defined here. `DiskFiles` is the real, read-only filesystem
(what the CLI and `parse_submit` use by default); `MemoryFiles` serves a dict and
is what the tests use. Keeping both in this one module, rather than spreading
`open()` over the reader and the queue parser, is what lets the rest be tested
table-driven without a temporary directory.
"""

from __future__ import annotations

import fnmatch
import glob as globlib
import os
import posixpath
from collections.abc import Mapping
from typing import Protocol


class SubmitFiles(Protocol):
    """Read-only access to the files a submit description refers to.

    Paths given to the port are absolute or relative to the process's working
    directory, already joined by the caller with the directory they are
    relative to.
    """

    def read_text(self, path: str) -> str:
        """The file's text; `OSError` (e.g. `FileNotFoundError`) when it cannot be read."""
        ...

    def glob(self, pattern: str, *, dirs: bool | None) -> list[str]:
        """Paths matching a shell pattern, sorted. `dirs`: True only directories,
        False only files, None both."""
        ...


class DiskFiles:
    """The real filesystem, read only."""

    def read_text(self, path: str) -> str:
        with open(path, encoding="utf-8") as handle:
            return handle.read()

    def glob(self, pattern: str, *, dirs: bool | None) -> list[str]:
        found = []
        for path in globlib.glob(pattern):
            is_dir = os.path.isdir(path)
            if dirs is None or dirs == is_dir:
                found.append(path)
        return sorted(found)


class MemoryFiles:
    """Files held in a mapping of normalised path -> text; directories are the
    parents of those paths (plus any listed in `dirs`)."""

    def __init__(self, files: Mapping[str, str], dirs: tuple[str, ...] = ()) -> None:
        self._files = {posixpath.normpath(k): v for k, v in files.items()}
        known_dirs = {posixpath.normpath(d) for d in dirs}
        for path in self._files:
            parent = posixpath.dirname(path)
            while parent and parent not in known_dirs and parent != "/":
                known_dirs.add(parent)
                parent = posixpath.dirname(parent)
        self._dirs = known_dirs

    def read_text(self, path: str) -> str:
        key = posixpath.normpath(path)
        if key not in self._files:
            raise FileNotFoundError(2, "No such file or directory", path)
        return self._files[key]

    def glob(self, pattern: str, *, dirs: bool | None) -> list[str]:
        norm = posixpath.normpath(pattern)
        depth = norm.count("/")
        candidates: list[str] = []
        if dirs is not True:
            candidates.extend(self._files)
        if dirs is not False:
            candidates.extend(self._dirs)
        relative = not pattern.startswith("/")
        found = []
        for path in candidates:
            shown = path
            if relative and path.startswith("/"):
                continue
            if shown.count("/") == depth and fnmatch.fnmatchcase(shown, norm):
                found.append(shown)
        return sorted(found)
