"""The `leadflow` command line: a thin wrapper over the stack, worker, API and intake service."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Annotated, Any, Literal

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
review_app = typer.Typer(help="Compliance reviews: leads held until a reviewer decides.")
app.add_typer(review_app, name="review")
task_app = typer.Typer(help="CRM tasks: leads routed to queues, waiting for the team to act.")
app.add_typer(task_app, name="task")
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
    from models.db import connect_db, migrate
    from models.program import load_program
    from starter.intake import EventPayloadError, Intake, IntakeRules, parse_events
    from starter.temporal import connect

    body = sys.stdin.buffer.read() if str(payload) == "-" else payload.read_bytes()
    try:
        events, _ = parse_events(body)
    except EventPayloadError as err:
        err_console.print(f"[red]rejected:[/red] {err}")
        raise typer.Exit(2) from err
    settings = Settings()

    async def send() -> None:
        db = connect_db(settings.resolved_database_url)
        migrate(db)
        client = await connect(settings)
        rules = IntakeRules.of(load_program(settings.program))
        intake = Intake(client, db, settings.task_queue, rules)
        for result in await intake.submit(events):
            console.print_json(json.dumps(result.model_dump()))

    asyncio.run(send())


@app.command()
def simulate(
    journey: Annotated[Path, typer.Argument(help="JSON or YAML file: a list of events")],
    program: Annotated[
        Path | None, typer.Option(help="program file (default: LEADFLOW_PROGRAM)")
    ] = None,
    days: Annotated[float, typer.Option(help="keep the cadence running this long after")] = 30,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """What the program would decide for a journey, offline: stages, scores, tracks, touches
    (taken as sent) and routing, from the same engine the lead workflow runs."""
    from datetime import timedelta

    from models.program import ProgramError, load_program
    from starter.simulate import SimulationError, read_journey
    from starter.simulate import as_json as simulation_json
    from starter.simulate import simulate as run_simulation

    _quiet_logs()
    try:
        loaded = load_program(program or Settings().program)
        result = run_simulation(loaded, read_journey(journey), timedelta(days=days))
    except (ProgramError, SimulationError) as err:
        err_console.print(f"leadflow: {err}", markup=False, highlight=False)
        raise typer.Exit(2) from err
    if as_json:
        print(simulation_json(result))
        return
    console.print(f"program {loaded.version}", highlight=False)
    for d in result.decisions:  # one line each, so it greps and diffs well
        line = f"{d.at:%Y-%m-%d %H:%M}  {d.rule_id:<28} {d.outcome}  [{d.trigger}]"
        console.print(line, highlight=False, markup=False, soft_wrap=True)
    state = result.state
    console.print(
        f"stage {state.stage.value}, track {state.track}, fit {state.score.fit}, "
        f"engagement {state.score.engagement:.1f}, touches sent {len(state.touches)}",
        highlight=False,
    )


def _quiet_logs() -> None:
    """Warnings only, to stderr: stdout carries the command's output (`--json` for scripts)."""
    import logging

    import structlog

    if not structlog.is_configured():
        structlog.configure(
            wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
            logger_factory=structlog.stdlib.LoggerFactory(),  # stderr, resolved at each write
        )


@app.command("import")
def import_csv(
    file: Annotated[Path, typer.Argument(help="CSV file (UTF-8); its first row names the columns")],
    mapping: Annotated[
        Path | None, typer.Option("--mapping", "-m", help="YAML or JSON mapping file")
    ] = None,
    event_type: Annotated[
        str | None, typer.Option("--type", help="the event type of every row")
    ] = None,
    column: Annotated[
        list[str] | None,
        typer.Option(help="COLUMN=TARGET, e.g. Email=lead.email, When=occurred_at (repeatable)"),
    ] = None,
    constant: Annotated[
        list[str] | None,
        typer.Option("--set", help="TARGET=VALUE for every row, e.g. lead.country=US"),
    ] = None,
    delimiter: Annotated[str | None, typer.Option(help="cell separator (default ,)")] = None,
    batch_size: Annotated[
        int, typer.Option(min=1, max=500, help="rows per checkpointed batch")
    ] = 100,
    restart: Annotated[
        bool, typer.Option("--restart", help="ignore an interrupted run's checkpoint")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Import a CSV file as lead events: each row is checked like an API event and delivered
    to its lead. Running it again imports nothing twice (those rows answer `duplicate`).

    Exit code 0 when every row was processed, rejected rows included (they are listed);
    1 when the run stopped (run it again to resume); 2 for a bad mapping or file.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn
    from rich.table import Table

    from models.db import connect_db, migrate
    from models.program import load_program
    from starter.csv_import import (
        ImportSummary,
        MappingError,
        build_mapping,
        checkpoint_path,
        plan_import,
        run_import,
    )
    from starter.intake import Intake, IntakeRules
    from starter.temporal import connect

    _quiet_logs()
    try:
        plan = plan_import(
            file,
            build_mapping(
                mapping,
                event_type=event_type,
                columns=column,
                constants=constant,
                delimiter=delimiter,
            ),
        )
    except MappingError as err:
        err_console.print(f"leadflow: {err}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(2) from err
    settings = Settings()
    checkpoint = checkpoint_path(settings.data_dir, plan)
    if restart:
        checkpoint.unlink(missing_ok=True)
    progress = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err_console,
        disable=as_json or not err_console.is_terminal,
    )

    async def run() -> ImportSummary:
        db = connect_db(settings.resolved_database_url)
        await asyncio.to_thread(migrate, db)
        client = await connect(settings)
        rules = IntakeRules.of(load_program(settings.program))
        with progress:
            task = progress.add_task(f"importing {file.name}", total=plan.records)
            return await run_import(
                Intake(client, db, settings.task_queue, rules),
                plan,
                batch_size=batch_size,
                checkpoint=checkpoint,
                on_rows=lambda rows: progress.advance(task, rows),
            )

    try:
        summary = asyncio.run(run())
    except KeyboardInterrupt:
        err_console.print("leadflow: import interrupted; run the same command to resume")
        raise typer.Exit(130) from None
    except Exception as err:  # a fatal stop: the checkpoint lets a rerun resume
        err_console.print(
            f"leadflow: import stopped: {type(err).__name__}: {err}; "
            "run the same command again to resume",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(1) from err
    if as_json:
        print(summary.model_dump_json(indent=2))
        return
    for reject in summary.rejects:
        console.print(f"[red]rejected[/red] {reject.line()}", highlight=False, soft_wrap=True)
    if summary.ignored_columns:
        console.print(f"columns not mapped (ignored): {', '.join(summary.ignored_columns)}")
    if summary.resumed_after_row:
        console.print(f"resumed after row {summary.resumed_after_row} (an interrupted run)")
    table = Table("rows", "accepted", "duplicate", "rejected", title=f"import {file.name}")
    table.add_row(
        str(summary.rows),
        str(summary.accepted),
        str(summary.duplicate),
        f"[red]{summary.rejected}[/red]" if summary.rejected else "0",
    )
    console.print(table)


@assets_app.command("import")
def assets_import(
    program: Annotated[
        Path | None, typer.Option(help="program file whose catalog to import (default: configured)")
    ] = None,
) -> None:
    """Import (or re-import) the program's asset catalog into the content library."""
    from sqlmodel import Session

    from leadflow_domain.content import import_catalog
    from models.db import connect_db, migrate
    from models.program import load_program

    settings = Settings()
    db = connect_db(settings.resolved_database_url)
    migrate(db)
    with Session(db) as session:
        summary = import_catalog(session, load_program(program or settings.program))
    console.print(
        f"imported: {summary.added} added, {summary.updated} updated, {summary.unchanged} unchanged"
    )


@assets_app.command("list")
def assets_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List the content library: status, version, approval and expiry of every asset."""
    from rich.table import Table
    from sqlmodel import Session

    from leadflow_domain.content import list_assets
    from models.db import connect_db, migrate

    db = connect_db(Settings().resolved_database_url)
    migrate(db)
    with Session(db) as session:
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
    from models.db import connect_db, migrate

    db = connect_db(Settings().resolved_database_url)
    migrate(db)
    return db


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
    from models.lead_state import lead_workflow_id
    from starter.temporal import connect
    from workflows.lead import LeadWorkflow

    client = await connect(Settings())
    return client.get_workflow_handle_for(LeadWorkflow.run, lead_workflow_id(lead_id))


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


@lead_app.command("history")
def lead_history(lead_id: str, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The Temporal history of the lead's current run: every event, signal, timer, activity
    and update, in order (`--json`: the raw history, as the Temporal UI exports it)."""

    async def history() -> None:
        found = await (await _lead_handle(lead_id)).fetch_history()
        if as_json:
            print(found.to_json())
            return
        for event in found.events:  # one line each, so it greps and pipes well
            kind = EventType.Name(event.event_type).removeprefix("EVENT_TYPE_").lower()
            when = f"{event.event_time.ToDatetime():%Y-%m-%d %H:%M:%S}"
            detail = _history_detail(event)
            console.print(f"{event.event_id:>5}  {when}  {kind:<44} {detail}", highlight=False)

    from temporalio.api.enums.v1 import EventType

    asyncio.run(history())


def _history_detail(event: Any) -> str:
    """The name that says what a history event was about (never a payload)."""
    for field, name in (
        ("activity_task_scheduled_event_attributes", "activity_type.name"),
        ("workflow_execution_signaled_event_attributes", "signal_name"),
        ("workflow_execution_update_accepted_event_attributes", "accepted_request.input.name"),
        ("timer_started_event_attributes", "start_to_fire_timeout"),
        ("marker_recorded_event_attributes", "marker_name"),
        ("start_child_workflow_execution_initiated_event_attributes", "workflow_id"),
    ):
        if event.HasField(field):
            value: Any = getattr(event, field)
            for part in name.split("."):
                value = getattr(value, part)
            return str(value.ToTimedelta()) if hasattr(value, "ToTimedelta") else str(value)
    return ""


@lead_app.command("pause")
def lead_pause(
    lead_id: str,
    by: Annotated[str, typer.Option(help="who pauses (recorded)")],
    reason: Annotated[str, typer.Option(help="why (recorded)")],
) -> None:
    """Pause the lead's promotional nurture until resumed."""
    from models.lead_state import PauseRequest
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
    from models.lead_state import ResumeRequest
    from workflows.lead import LeadWorkflow

    async def resume() -> None:
        handle = await _lead_handle(lead_id)
        await handle.signal(LeadWorkflow.resume, ResumeRequest(by=by, reason=reason))

    asyncio.run(resume())
    console.print(f"resume sent to {lead_id}")


@lead_app.command("audit")
def lead_audit(
    lead_id: str,
    format: Annotated[
        Literal["json", "csv"] | None, typer.Option("--format", help="export as JSON or CSV")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="same as --format json")] = False,
) -> None:
    """The lead's audit trail (as GET /v1/leads/{id}/audit): decisions of every run, sends,
    consent, reviews and case references, oldest first."""
    from rich.table import Table
    from temporalio.service import RPCError, RPCStatusCode

    from starter.audit import AuditTrail, as_csv, audit_trail
    from starter.temporal import connect

    if as_json and format == "csv":
        err_console.print("leadflow: give --format csv or --json, not both")
        raise typer.Exit(2)
    settings = Settings()

    async def trail() -> AuditTrail:
        return await audit_trail(await connect(settings), _engine(), settings, lead_id)

    try:
        found = asyncio.run(trail())
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise
        err_console.print(f"leadflow: no lead {lead_id}", highlight=False)
        raise typer.Exit(1) from err
    if format == "csv":
        print(as_csv(found), end="")
    elif format == "json" or as_json:
        print(found.model_dump_json(indent=2))
    else:
        table = Table("at", "kind", "actor", "what")
        for e in found.entries:
            table.add_row(f"{e.at:%Y-%m-%d %H:%M:%S}", e.kind, e.actor, e.what)
        console.print(table)
        console.print(f"workflow: {found.workflow_url}", highlight=False)


def _cli_actor() -> str:
    """Who acts from the command line, as recorded: `cli:<os user>`."""
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except (OSError, KeyError):
        return "cli:unknown"


@review_app.command("list")
def review_list(
    status: Annotated[
        Literal["open", "escalated", "released", "blocked"] | None, typer.Option()
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Leads held for compliance review, oldest first (as GET /v1/compliance/reviews)."""
    from rich.table import Table

    from models.queries import list_reviews

    rows = list_reviews(_engine(), status)
    if as_json:
        print(json.dumps([r.model_dump(mode="json") for r in rows], indent=2))
        return
    table = Table()
    table.add_column("review", no_wrap=True)  # ids are copied into `review decide`
    table.add_column("lead", no_wrap=True)
    for heading in ("status", "reason", "opened", "due", "reviewer"):
        table.add_column(heading)
    for r in rows:
        table.add_row(
            r.review_id,
            r.lead_id,
            r.status,
            r.reason,
            f"{r.opened_at:%Y-%m-%d %H:%M}",
            f"{r.due_at:%Y-%m-%d %H:%M}" if r.due_at else "",
            r.reviewer or "",
        )
    console.print(table)


@review_app.command("decide")
def review_decide(
    review_id: str,
    decision: Annotated[Literal["release", "block"], typer.Option(help="release or block")],
    reviewer: Annotated[str, typer.Option(help="who reviewed (recorded)")],
    note: Annotated[str | None, typer.Option(help="why (recorded)")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Release (resume where it stopped) or block (disqualify) a held lead. The actor
    recorded is `cli:<os user>`."""
    from pydantic import ValidationError

    from models.lead_state import ReviewDecision, ReviewRecordResult
    from starter.review_decisions import ReviewNotOpen, UnknownReview, decide_review
    from starter.temporal import connect

    try:
        request = ReviewDecision(
            review_id=review_id, reviewer=reviewer, decision=decision, note=note, actor=_cli_actor()
        )
    except ValidationError as err:
        problems = "; ".join(f"{e['loc'][0]}: {e['msg']}" for e in err.errors())
        err_console.print(f"leadflow: {problems}", markup=False, highlight=False)
        raise typer.Exit(2) from err

    async def decide() -> ReviewRecordResult:
        return await decide_review(await connect(Settings()), _engine(), request)

    try:
        result = asyncio.run(decide())
    except (UnknownReview, ReviewNotOpen) as err:
        err_console.print(f"leadflow: {err}", markup=False, highlight=False)
        raise typer.Exit(1) from err
    if as_json:
        print(result.model_dump_json(indent=2))
        return
    console.print(f"review {result.review_id} {result.status} by {reviewer}", highlight=False)


@task_app.command("list")
def task_list(
    queue: Annotated[str | None, typer.Option(help="only this queue")] = None,
    status: Annotated[
        str | None, typer.Option(help="open | accepted | rejected | closed | escalated")
    ] = None,
    lead: Annotated[str | None, typer.Option(help="only this lead's tasks")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """CRM tasks, newest first: queue, status, why, SLA due time."""
    from rich.table import Table

    from models.queries import list_tasks, task_view

    views = [task_view(t) for t in list_tasks(_engine(), queue=queue, status=status, lead_id=lead)]
    if as_json:
        print(json.dumps(views, indent=2))
        return
    table = Table("task", "lead", "queue", "status", "rule", "due", "actor")
    for v in views:
        table.add_row(
            v["task_id"],
            v["lead_id"],
            v["queue"],
            v["status"],
            v["rule_id"],
            v["due_at"] or "",
            v["actor"] or "",
        )
    console.print(table)


def _task_action(action_args: dict[str, Any], as_json: bool) -> None:
    from pydantic import ValidationError

    from models.routing import TaskAction, TaskActionResult
    from starter.task_actions import TaskNotOpen, UnknownTask, act_on_task
    from starter.temporal import connect

    try:
        action = TaskAction(actor=_cli_actor(), **action_args)
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'reason'}: {e['msg']}" for e in err.errors()
        )
        err_console.print(f"leadflow: {problems}", markup=False, highlight=False)
        raise typer.Exit(2) from err

    async def act() -> TaskActionResult:
        return await act_on_task(await connect(Settings()), _engine(), action)

    try:
        result = asyncio.run(act())
    except (UnknownTask, TaskNotOpen) as err:
        err_console.print(f"leadflow: {err}", markup=False, highlight=False)
        raise typer.Exit(1) from err
    if as_json:
        print(result.model_dump_json(indent=2))
        return
    console.print(
        f"task {result.task_id} {result.status}; lead stage {result.stage.value}"
        + (f", track {result.track}" if result.track else ""),
        highlight=False,
    )


@task_app.command("accept")
def task_accept(
    task_id: str,
    note: Annotated[str | None, typer.Option(help="recorded with the acceptance")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Accept a task (the actor recorded is `cli:<os user>`)."""
    _task_action({"task_id": task_id, "action": "accept", "note": note}, as_json)


@task_app.command("reject")
def task_reject(
    task_id: str,
    reason: Annotated[
        str,
        typer.Option(
            help="not_ready | wrong_contact | no_fit | duplicate | competitor | no_consent"
        ),
    ],
    note: Annotated[str | None, typer.Option(help="recorded with the rejection")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Reject a task with a reason code: the lead goes back to nurture on the reason's track."""
    _task_action({"task_id": task_id, "action": "reject", "reason": reason, "note": note}, as_json)


@task_app.command("close")
def task_close(
    task_id: str,
    outcome: Annotated[str, typer.Option(help="e.g. won, lost, no_decision")],
    note: Annotated[str | None, typer.Option(help="recorded with the outcome")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Close a task with its outcome."""
    _task_action({"task_id": task_id, "action": "close", "outcome": outcome, "note": note}, as_json)


def main() -> None:
    """Console-script entry: known start-up problems print one line, not a traceback."""
    try:
        app()
    except KNOWN_ERRORS as err:
        err_console.print(f"leadflow: {err}", highlight=False, markup=False, soft_wrap=True)
        sys.exit(1)
