"""How the commands print: their output (tables, lines or `--json`) on stdout, errors, logs and
progress on stderr."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console

if TYPE_CHECKING:
    from pydantic import BaseModel

console = Console()
err_console = Console(stderr=True)

JsonOption = Annotated[bool, typer.Option("--json")]
"""The `--json` flag: the command prints JSON on stdout instead of a table or lines."""


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


def print_json(data: Any) -> None:
    """`data` as indented JSON on stdout."""
    print(json.dumps(data, indent=2))


def print_records(records: Sequence[BaseModel], fields: Sequence[str]) -> None:
    """Database records as a JSON list on stdout, with only `fields`, in that order."""
    dumped = [record.model_dump(mode="json", include=set(fields)) for record in records]
    print_json([{name: row[name] for name in fields} for row in dumped])


def print_result(result: BaseModel, as_json: bool, line: str) -> None:
    """A command's result: the model as JSON with `--json`, otherwise `line`."""
    if as_json:
        print(result.model_dump_json(indent=2))
    else:
        console.print(line, highlight=False)
