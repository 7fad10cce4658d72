"""Shared fixtures of the submit tests: the golden directory served from memory."""

from __future__ import annotations

from pathlib import Path

from skyflock.submit import MemoryFiles

GOLDEN = Path(__file__).parent / "golden"
MALFORMED = Path(__file__).parent / "malformed"
BASE = "/submit"
ENVIRON = {
    "HOME": "/home/alice",
    "PATH": "/usr/bin:/bin",
    "CONDA_PREFIX": "/opt/conda",
    "CONDA_SHLVL": "1",
    "LANG": "C.UTF-8",
}


def memory_files(root: Path) -> MemoryFiles:
    """Every file under `root`, served at the same relative path under BASE."""
    files = {
        f"{BASE}/{p.relative_to(root).as_posix()}": p.read_text(encoding="utf-8")
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }
    return MemoryFiles(files)
