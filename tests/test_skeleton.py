"""The skeleton holds together: the package imports and the command answers."""

import subprocess
import sys

import skyflock


def test_version_command_prints_package_version() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "skyflock.cli.main", "version"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == f"skyflock {skyflock.__version__}"
