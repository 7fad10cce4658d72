"""Command values converted without pydantic, and what a client command imports.

The start-up test runs the real command with `-X importtime` and fails when a
client command loads one of the heavy packages again (typer's pydantic
conversion, httpx, rich, the server side), which is what made every call cost
over a second.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Any

import pytest
import typer
from typer.testing import CliRunner

from skyflock.cli.plain_params import PlainCommand, PlainGroup, use_plain_params
from tests.cli.server_fixture import free_port

# (skyflock.manager.settings, where the default address lives, is light and allowed)
HEAVY = (
    "pydantic",
    "httpx",
    "rich",
    "sqlalchemy",
    "alembic",
    "fastapi",
    "uvicorn",
    "skyflock.store",
    "skyflock.manager.service",
    "skyflock.manager.loop",
)


def _app(plain: bool = True) -> tuple[typer.Typer, dict[str, Any]]:
    seen: dict[str, Any] = {}
    app = typer.Typer(
        cls=PlainGroup if plain else None, add_completion=False, rich_markup_mode=None
    )

    @app.command("one")
    def one(
        name: str,
        limit: Annotated[int | None, typer.Option("-limit", min=1, max=5)] = None,
        ratio: Annotated[float, typer.Option("--ratio")] = 0.5,
        words: Annotated[list[str] | None, typer.Option("-w")] = None,
        pair: Annotated[tuple[str, float] | None, typer.Option("--pair")] = None,
        path: Annotated[Path | None, typer.Option("--path")] = None,
        flag: Annotated[bool, typer.Option("--flag")] = False,
    ) -> None:
        seen.update(name=name, limit=limit, ratio=ratio, words=words, pair=pair, path=path)
        seen["flag"] = flag

    @app.command("two")
    def two() -> None:
        seen["two"] = True

    if plain:
        use_plain_params(app)
    return app, seen


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["x"], {"name": "x", "limit": None, "ratio": 0.5, "words": None, "pair": None}),
        (["x", "-limit", "3", "--ratio", "2"], {"limit": 3, "ratio": 2.0}),
        (["x", "-w", "a", "-w", "b"], {"words": ["a", "b"]}),
        (["x", "--pair", "alice", "7"], {"pair": ("alice", 7.0)}),
        (["x", "--path", "d/f", "--flag"], {"path": Path("d/f"), "flag": True}),
    ],
)
def test_values_are_converted(args: list[str], expected: dict[str, Any]) -> None:
    app, seen = _app()
    result = CliRunner().invoke(app, ["one", *args])
    assert result.exit_code == 0, result.output
    for key, value in expected.items():
        assert seen[key] == value, key
    assert isinstance(seen["ratio"], float) and isinstance(seen["flag"], bool)
    # the same values as typer's own (pydantic) conversion gives
    typer_app, typer_seen = _app(plain=False)
    assert CliRunner().invoke(typer_app, ["one", *args]).exit_code == 0
    assert typer_seen == seen


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-limit", "0"], "Invalid value for '-limit': must be at least 1, not 0."),
        (["-limit", "9"], "Invalid value for '-limit': must be at most 5, not 9."),
        (["-limit", "x"], "Invalid value for '-limit': 'x' is not a valid integer."),
        (["--ratio", "1e"], "Invalid value for '--ratio': '1e' is not a valid number."),
        (["--pair", "a", "b"], "Invalid value for '--pair': 'b' is not a valid number."),
    ],
)
def test_bad_values_are_usage_errors(args: list[str], message: str) -> None:
    app, seen = _app()
    result = CliRunner().invoke(app, ["one", "x", *args])
    assert result.exit_code == 2
    assert message in result.output
    assert "name" not in seen


def test_every_command_is_plain() -> None:
    app, _ = _app()
    assert all(info.cls is PlainCommand for info in app.registered_commands)
    assert CliRunner().invoke(app, ["two"]).exit_code == 0


def _imports(*args: str) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    env = {**os.environ, "SKYFLOCK_URL": f"http://127.0.0.1:{free_port()}"}
    r = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "skyflock.cli.main", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    names = {
        line.rsplit("|", 1)[1].strip()
        for line in r.stderr.splitlines()
        if line.startswith("import time:")
    }
    return r, names


@pytest.mark.parametrize(
    "args",
    [
        ("--help",),
        ("q", "-limit", "5", "-constraint", "true"),
        ("rm", "1.0"),
        ("status",),
        ("userprio",),
    ],
)
def test_client_commands_load_no_heavy_package(args: tuple[str, ...]) -> None:
    r, names = _imports(*args)
    assert r.returncode == (0 if args == ("--help",) else 2), r.stderr[-500:]
    loaded = sorted(n for n in names if n.split(".")[0] in HEAVY or n.startswith(HEAVY))
    assert loaded == [], loaded
