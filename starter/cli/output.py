"""The console the commands print to; stdout carries their output, stderr the rest."""

from __future__ import annotations

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
