"""The console the commands print to; stdout carries their output, stderr the rest."""

from __future__ import annotations

from typing import NoReturn

import typer
from rich.console import Console

console = Console()
err_console = Console(stderr=True)


def quiet_logs() -> None:
    """Warnings only, to stderr: stdout carries the command's output (`--json` for scripts)."""
    import logging

    import structlog

    if not structlog.is_configured():
        structlog.configure(
            wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
            logger_factory=structlog.stdlib.LoggerFactory(),  # stderr, resolved at each write
        )


def fail(message: str, code: int, *, soft_wrap: bool = False, highlight: bool = False) -> NoReturn:
    """End the command: `leadflow: <message>` on stderr, then exit with `code`."""
    err_console.print(
        f"leadflow: {message}", markup=False, highlight=highlight, soft_wrap=soft_wrap
    )
    raise typer.Exit(code)
