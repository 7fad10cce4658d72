"""The `skyflock` command: one typer app; each command group lives in its own module.

Every command module exposes `register(app)`; this module only assembles them
and turns user mistakes (`UserError`) into one message and a non-zero exit.
"""

from __future__ import annotations

import typer

from skyflock import __version__
from skyflock.cli.plain_params import PlainGroup, use_plain_params

app = typer.Typer(
    name="skyflock",
    help="A federated batch and workflow system built on ClassAd matchmaking.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain help and usage errors: typer's rich formatting imports rich's markdown,
    # syntax and traceback modules, which cost more than all the commands together.
    rich_markup_mode=None,
    cls=PlainGroup,
)


@app.command("version")
def version() -> None:
    """Print skyflock's version."""
    typer.echo(f"skyflock {__version__}")


# Command modules register themselves below, one line each.
# (register-commands)
from skyflock.cli import server_cmd  # noqa: E402

server_cmd.register(app)
from skyflock.cli import queue_cmd  # noqa: E402

queue_cmd.register(app)
from skyflock.cli import status_cmd  # noqa: E402

status_cmd.register(app)
from skyflock.cli import actions_cmd  # noqa: E402

actions_cmd.register(app)
from skyflock.cli import history_cmd  # noqa: E402

history_cmd.register(app)
from skyflock.cli import userprio_cmd  # noqa: E402

userprio_cmd.register(app)
from skyflock.cli import logs_cmd  # noqa: E402

logs_cmd.register(app)
from skyflock.cli import analyze_cmd  # noqa: E402

analyze_cmd.register(app)
from skyflock.cli import config_cmd  # noqa: E402

config_cmd.register(app)
from skyflock.cli import demo_cmd  # noqa: E402

demo_cmd.register(app)
from skyflock.cli import classad_cmd  # noqa: E402

classad_cmd.register(app)
from skyflock.cli import simulate_cmd  # noqa: E402

simulate_cmd.register(app)
from skyflock.cli import submit_cmd  # noqa: E402

submit_cmd.register(app)

# After every registration: commands convert their values without pydantic.
use_plain_params(app)


def main() -> None:
    use_plain_params(app)
    app()


if __name__ == "__main__":
    main()
