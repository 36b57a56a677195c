"""`leadflow assets import|list`: the approved content library."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from starter.cli.connections import load_settings, open_database
from starter.cli.output import JsonOption, console, print_records

app = typer.Typer(help="The approved content library.")


@app.command("import")
def assets_import(
    program: Annotated[
        Path | None, typer.Option(help="program file whose catalog to import (default: configured)")
    ] = None,
) -> None:
    """Import (or re-import) the program's asset catalog into the content library."""
    from sqlmodel import Session

    from leadflow_domain.content import import_catalog
    from models.program import load_program

    settings = load_settings()
    with Session(open_database(settings)) as session:
        summary = import_catalog(session, load_program(program or settings.program))
    console.print(
        f"imported: {summary.added} added, {summary.updated} updated, {summary.unchanged} unchanged"
    )


@app.command("list")
def assets_list(as_json: JsonOption = False) -> None:
    """List the content library: status, version, approval and expiry of every asset."""
    from rich.table import Table
    from sqlmodel import Session

    from leadflow_domain.content import list_assets

    with Session(open_database(load_settings())) as session:
        rows = list_assets(session)
    if as_json:
        print_records(
            rows, ("asset_id", "version", "status", "approval_id", "expires_on", "countries")
        )
        return
    table = Table("asset", "version", "status", "approval", "expires", "countries", "title")
    for r in rows:
        table.add_row(
            r.asset_id,
            r.version,
            r.status,
            r.approval_id,
            r.expires_on.isoformat(),
            ", ".join(json.loads(r.countries)),
            r.title,
        )
    console.print(table)
