"""Who acts from the command line, as recorded in the audit trail."""

from __future__ import annotations


def cli_actor() -> str:
    """Who acts from the command line, as recorded: `cli:<os user>`."""
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except (OSError, KeyError):
        return "cli:unknown"
