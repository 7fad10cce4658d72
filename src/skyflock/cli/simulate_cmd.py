"""`skyflock simulate SCENARIO.yaml [--json] [--plot out.png]`: run a scenario
through the simulator and print what happened.

Neighbours: `sim.scenario` (reading and checking the file), `sim.engine`
(the run), `sim.report` and `sim.plot` (the output). A bad scenario prints one
line naming the key and its YAML line, and exits 1 without a traceback.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated

import typer


def simulate_command(
    scenario: Annotated[Path, typer.Argument(help="The scenario YAML file.", show_default=False)],
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    plot: Annotated[
        Path | None,
        typer.Option(
            "--plot", help="Draw usage share per group and cluster utilisation to this PNG."
        ),
    ] = None,
) -> None:
    """Simulate a federation and its workload with the real negotiator on a virtual clock."""
    # Imported here: every other command starts faster without the simulator.
    from skyflock.sim.engine import simulate
    from skyflock.sim.scenario import ScenarioError, load_scenario

    try:
        text = scenario.read_text(encoding="utf-8")
    except OSError as exc:
        typer.echo(f"{scenario}: cannot read: {exc.strerror or exc}", err=True)
        raise typer.Exit(1) from None
    try:
        loaded = load_scenario(text, str(scenario))
    except ScenarioError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    started = time.perf_counter()
    report = simulate(loaded)
    wall = time.perf_counter() - started
    if plot is not None:
        from skyflock.sim.plot import write_plot

        try:
            write_plot(report, plot)
        except OSError as exc:
            typer.echo(f"{plot}: cannot write the plot: {exc.strerror or exc}", err=True)
            raise typer.Exit(1) from None
    if as_json:
        data = report.to_dict()
        data["wall_seconds"] = round(wall, 3)
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
    else:
        typer.echo(report.to_text())
        typer.echo(f"\nsimulated in {wall:.1f} s of wall time")
        if plot is not None:
            typer.echo(f"plot written to {plot}")


def register(app: typer.Typer) -> None:
    app.command("simulate")(simulate_command)
