"""The `leadflow` command line: a thin wrapper over the stack, worker, API and intake service.

One module per command group; `app` puts them together in the order `leadflow --help` lists.
"""

from __future__ import annotations

import sys

import typer

from models.program import ProgramError
from starter.cli import (
    asset_commands,
    event_commands,
    import_command,
    key_commands,
    lead_commands,
    review_commands,
    simulate_command,
    stack_commands,
    task_commands,
)
from starter.cli.output import err_console
from starter.devserver import DevServerError
from starter.ports import PortInUseError

app = typer.Typer(
    help="Leadflow: durable lead nurturing, routing and sales handoff.",
    pretty_exceptions_enable=False,
)
app.add_typer(stack_commands.app)
app.add_typer(simulate_command.app)
app.add_typer(import_command.app)
app.add_typer(event_commands.app, name="event")
app.add_typer(asset_commands.app, name="assets")
app.add_typer(key_commands.app, name="key")
app.add_typer(lead_commands.app, name="lead")
app.add_typer(review_commands.app, name="review")
app.add_typer(task_commands.app, name="task")

KNOWN_ERRORS = (PortInUseError, ProgramError, DevServerError)


def main() -> None:
    """Console-script entry: known start-up problems print one line, not a traceback."""
    try:
        app()
    except KNOWN_ERRORS as err:
        err_console.print(f"leadflow: {err}", highlight=False, markup=False, soft_wrap=True)
        sys.exit(1)
