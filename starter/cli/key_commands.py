"""`leadflow key create|revoke|list`: API keys, stored hashed."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from starter.auth import SCOPES
from starter.cli.connections import load_settings, open_database
from starter.cli.output import JsonOption, console, fail, print_records

app = typer.Typer(help="API keys (stored hashed).")


@app.command("create")
def key_create(
    name: Annotated[str, typer.Option(help="who uses the key; recorded as the actor")],
    scope: Annotated[list[str], typer.Option(help=", ".join(SCOPES))],
) -> None:
    """Create a key; it is printed once and only its hash is kept."""
    from starter.keys import KeyRequestError, create_key

    try:
        key = create_key(open_database(load_settings()), name, scope)
    except KeyRequestError as err:
        fail(str(err), 2, soft_wrap=True, highlight=True)
    print(key)


@app.command("revoke")
def key_revoke(name: Annotated[str, typer.Argument(help="the key's name")]) -> None:
    """Revoke a key: requests with it get 401 from now on."""
    from starter.keys import KeyRequestError, revoke_key

    try:
        revoke_key(open_database(load_settings()), name)
    except KeyRequestError as err:
        fail(str(err), 2, soft_wrap=True, highlight=True)
    console.print(f"revoked {name}")


@app.command("list")
def key_list(as_json: JsonOption = False) -> None:
    """List keys: name, scopes, created, revoked (never the keys)."""
    from rich.table import Table

    from starter.keys import list_keys

    rows = list_keys(open_database(load_settings()))
    if as_json:
        print_records(rows, ("name", "scopes", "created_at", "revoked_at"))
        return
    table = Table("name", "scopes", "created", "revoked")
    for r in rows:
        revoked = r.revoked_at.isoformat() if r.revoked_at else ""
        table.add_row(r.name, ", ".join(json.loads(r.scopes)), r.created_at.isoformat(), revoked)
    console.print(table)
