"""`leadflow event send`: deliver lead events from a file or stdin."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from starter.cli.connections import load_settings, open_intake
from starter.cli.output import console, err_console

app = typer.Typer(help="Send lead events.")


@app.command("send")
def event_send(
    payload: Annotated[
        Path, typer.Argument(help="JSON file with one event or {'events': [...]}; - for stdin")
    ],
) -> None:
    """Validate events and deliver them to their leads' workflows."""
    from starter.intake import EventPayloadError, parse_events

    body = sys.stdin.buffer.read() if str(payload) == "-" else payload.read_bytes()
    try:
        events, _ = parse_events(body)
    except EventPayloadError as err:
        err_console.print(f"[red]rejected:[/red] {err}")
        raise typer.Exit(2) from err
    settings = load_settings()

    async def send() -> None:
        intake = await open_intake(settings)
        for result in await intake.submit(events):
            console.print_json(json.dumps(result.model_dump()))

    asyncio.run(send())
