"""The `leadflow` command line: a thin wrapper over the stack, worker, API and intake service."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from models.program import ProgramError
from starter.devserver import DevServerError
from starter.logging import configure_logging
from starter.ports import PortInUseError
from starter.settings import Settings

app = typer.Typer(
    help="Leadflow: durable lead nurturing, routing and sales handoff.",
    pretty_exceptions_enable=False,
)
event_app = typer.Typer(help="Send lead events.")
app.add_typer(event_app, name="event")
assets_app = typer.Typer(help="The approved content library.")
app.add_typer(assets_app, name="assets")
key_app = typer.Typer(help="API keys (stored hashed).")
app.add_typer(key_app, name="key")
lead_app = typer.Typer(help="Look at a lead and steer it.")
app.add_typer(lead_app, name="lead")
console = Console()
err_console = Console(stderr=True)

KNOWN_ERRORS = (PortInUseError, ProgramError, DevServerError)


@app.command()
def up() -> None:
    """Run the embedded stack: Temporal dev server, SMTP sink, worker and API."""
    from starter.stack import run_stack

    configure_logging()
    asyncio.run(run_stack(Settings(), announce=lambda line: print(line, flush=True)))


@app.command()
def worker() -> None:
    """Run the worker against the configured Temporal server."""
    import worker as worker_module

    asyncio.run(worker_module.main())


@app.command()
def api() -> None:
    """Run the HTTP API against the configured Temporal server and database."""
    import uvicorn

    from starter.api import create_app

    configure_logging()
    settings = Settings()
    uvicorn.run(create_app(settings), host=settings.api_host, port=settings.api_port)


@event_app.command("send")
def event_send(
    payload: Annotated[
        Path, typer.Argument(help="JSON file with one event or {'events': [...]}; - for stdin")
    ],
) -> None:
    """Validate events and deliver them to their leads' workflows."""
    from models.db import make_engine, migrate
    from starter.intake import EventPayloadError, parse_events, submit_events
    from starter.temporal import connect

    body = sys.stdin.buffer.read() if str(payload) == "-" else payload.read_bytes()
    try:
        events, _ = parse_events(body)
    except EventPayloadError as err:
        err_console.print(f"[red]rejected:[/red] {err}")
        raise typer.Exit(2) from err
    settings = Settings()

    async def send() -> None:
        engine = make_engine(settings.resolved_database_url)
        migrate(engine)
        client = await connect(settings)
        for result in await submit_events(client, engine, settings.task_queue, events):
            console.print_json(json.dumps(result.model_dump()))

    asyncio.run(send())


@assets_app.command("import")
def assets_import(
    program: Annotated[
        Path | None, typer.Option(help="program file whose catalog to import (default: configured)")
    ] = None,
) -> None:
    """Import (or re-import) the program's asset catalog into the content library."""
    from sqlmodel import Session

    from activities.content import import_catalog
    from models.db import make_engine, migrate
    from models.program import load_program

    settings = Settings()
    engine = make_engine(settings.resolved_database_url)
    migrate(engine)
    with Session(engine) as session:
        summary = import_catalog(session, load_program(program or settings.program))
    console.print(
        f"imported: {summary.added} added, {summary.updated} updated, {summary.unchanged} unchanged"
    )


@assets_app.command("list")
def assets_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List the content library: status, version, approval and expiry of every asset."""
    from rich.table import Table
    from sqlmodel import Session

    from activities.content import list_assets
    from models.db import make_engine, migrate

    engine = make_engine(Settings().resolved_database_url)
    migrate(engine)
    with Session(engine) as session:
        rows = list_assets(session)
    if as_json:
        keep = ("asset_id", "version", "status", "approval_id", "expires_on", "countries")
        print(json.dumps([r.model_dump(mode="json", include=set(keep)) for r in rows], indent=2))
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


def _engine():  # type: ignore[no-untyped-def]
    from models.db import make_engine, migrate

    engine = make_engine(Settings().resolved_database_url)
    migrate(engine)
    return engine


@key_app.command("create")
def key_create(
    name: Annotated[str, typer.Option(help="who uses the key; recorded as the actor")],
    scope: Annotated[
        list[str], typer.Option(help="events:write, leads:read, sales:act, compliance:act")
    ],
) -> None:
    """Create a key; it is printed once and only its hash is kept."""
    from starter.keys import KeyRequestError, create_key

    try:
        key = create_key(_engine(), name, scope)
    except KeyRequestError as err:
        err_console.print(f"leadflow: {err}", markup=False, soft_wrap=True)
        raise typer.Exit(2) from err
    print(key)


@key_app.command("revoke")
def key_revoke(name: Annotated[str, typer.Argument(help="the key's name")]) -> None:
    """Revoke a key: requests with it get 401 from now on."""
    from starter.keys import KeyRequestError, revoke_key

    try:
        revoke_key(_engine(), name)
    except KeyRequestError as err:
        err_console.print(f"leadflow: {err}", markup=False, soft_wrap=True)
        raise typer.Exit(2) from err
    console.print(f"revoked {name}")


@key_app.command("list")
def key_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List keys: name, scopes, created, revoked (never the keys)."""
    from rich.table import Table

    from starter.keys import list_keys

    rows = list_keys(_engine())
    if as_json:
        keep = {"name", "scopes", "created_at", "revoked_at"}
        print(json.dumps([r.model_dump(mode="json", include=keep) for r in rows], indent=2))
        return
    table = Table("name", "scopes", "created", "revoked")
    for r in rows:
        revoked = r.revoked_at.isoformat() if r.revoked_at else ""
        table.add_row(r.name, ", ".join(json.loads(r.scopes)), r.created_at.isoformat(), revoked)
    console.print(table)


async def _lead_handle(lead_id: str) -> Any:
    """The lead's workflow handle on the configured Temporal server."""
    from starter.intake import workflow_id
    from starter.temporal import connect
    from workflows.lead import LeadWorkflow

    client = await connect(Settings())
    return client.get_workflow_handle_for(LeadWorkflow.run, workflow_id(lead_id))


@lead_app.command("show")
def lead_show(lead_id: str, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Stage, scores with breakdown, track, stops, pause and next touch of a lead."""
    from workflows.lead import LeadWorkflow

    async def show() -> None:
        state = await (await _lead_handle(lead_id)).query(LeadWorkflow.state)
        if as_json:
            print(state.model_dump_json(indent=2, exclude={"decisions", "recent_event_ids"}))
            return
        score = state.score
        console.print(f"[bold]{lead_id}[/bold]  stage {state.stage.value}  track {state.track}")
        console.print(f"fit {score.fit}  engagement {score.engagement}  mql {score.mql}")
        for item in score.fit_breakdown + score.engagement_breakdown:
            console.print(f"  {item.points:>7}  {item.source}", highlight=False)
        console.print(f"next touch {state.next_touch_at}  paused {state.pause is not None}")
        for stop in state.stops.values():
            console.print(f"stopped: {stop.reason} (since {stop.since:%Y-%m-%d %H:%M})")

    asyncio.run(show())


@lead_app.command("decisions")
def lead_decisions(lead_id: str, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The lead's decision log of this run (earlier runs: GET /v1/leads/{id}/decisions)."""
    from rich.table import Table

    from workflows.lead import LeadWorkflow

    async def decisions() -> None:
        log = await (await _lead_handle(lead_id)).query(LeadWorkflow.decisions)
        if as_json:
            print(log.model_dump_json(indent=2))
            return
        table = Table("#", "at", "rule", "outcome", "trigger")
        for d in log.decisions:
            table.add_row(str(d.seq), f"{d.at:%Y-%m-%d %H:%M:%S}", d.rule_id, d.outcome, d.trigger)
        console.print(table)

    asyncio.run(decisions())


@lead_app.command("pause")
def lead_pause(
    lead_id: str,
    by: Annotated[str, typer.Option(help="who pauses (recorded)")],
    reason: Annotated[str, typer.Option(help="why (recorded)")],
) -> None:
    """Pause the lead's promotional nurture until resumed."""
    from models.lead import PauseRequest
    from workflows.lead import LeadWorkflow

    async def pause() -> None:
        handle = await _lead_handle(lead_id)
        await handle.signal(LeadWorkflow.pause, PauseRequest(by=by, reason=reason))

    asyncio.run(pause())
    console.print(f"pause sent to {lead_id}")


@lead_app.command("resume")
def lead_resume(
    lead_id: str,
    by: Annotated[str, typer.Option(help="who resumes (recorded)")],
    reason: Annotated[str | None, typer.Option(help="why (recorded)")] = None,
) -> None:
    """Resume a paused lead's nurture."""
    from models.lead import ResumeRequest
    from workflows.lead import LeadWorkflow

    async def resume() -> None:
        handle = await _lead_handle(lead_id)
        await handle.signal(LeadWorkflow.resume, ResumeRequest(by=by, reason=reason))

    asyncio.run(resume())
    console.print(f"resume sent to {lead_id}")


def main() -> None:
    """Console-script entry: known start-up problems print one line, not a traceback."""
    try:
        app()
    except KNOWN_ERRORS as err:
        err_console.print(f"leadflow: {err}", highlight=False, markup=False, soft_wrap=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
