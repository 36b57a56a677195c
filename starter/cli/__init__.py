"""The `leadflow` command line: a thin wrapper over the stack, worker, API and intake service.

One module per command group; `app` puts them together in the order `leadflow --help` lists.
The modules import only typer, rich and the standard library at the top, and everything else
inside the commands, so `leadflow --help` starts without loading Temporal, the database or the
program models.
"""

from __future__ import annotations

import sys

import typer

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


def main() -> None:
    """Console-script entry: known start-up problems print one line, not a traceback."""
    try:
        app()
    except Exception as err:
        if not isinstance(err, _known_errors()):
            raise
        err_console.print(f"leadflow: {err}", highlight=False, markup=False, soft_wrap=True)
        sys.exit(1)


def _known_errors() -> tuple[type[Exception], ...]:
    """Start-up problems a user fixes from the message: a busy port, a bad program file, a
    Temporal dev server that would not start (imported late, to keep `--help` fast)."""
    from models.program import ProgramError
    from starter.devserver import DevServerError
    from starter.ports import PortInUseError

    return (PortInUseError, ProgramError, DevServerError)
