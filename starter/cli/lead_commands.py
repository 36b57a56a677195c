"""`leadflow lead show|decisions|history|pause|resume|audit`: look at a lead and steer it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer

from starter.cli.connections import load_settings, on_lead, run_service
from starter.cli.output import JsonOption, console, fail

if TYPE_CHECKING:
    from starter.audit import AuditTrail
    from starter.cli.connections import LeadHandle

app = typer.Typer(help="Look at a lead and steer it.")


@app.command("show")
def lead_show(lead_id: str, as_json: JsonOption = False) -> None:
    """Stage, scores with breakdown, track, stops, pause and next touch of a lead."""
    from workflows.lead import LeadWorkflow

    state = on_lead(load_settings(), lead_id, lambda lead: lead.query(LeadWorkflow.state))
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


@app.command("decisions")
def lead_decisions(lead_id: str, as_json: JsonOption = False) -> None:
    """The lead's decision log of this run (earlier runs: GET /v1/leads/{id}/decisions)."""
    from rich.table import Table

    from workflows.lead import LeadWorkflow

    log = on_lead(load_settings(), lead_id, lambda lead: lead.query(LeadWorkflow.decisions))
    if as_json:
        print(log.model_dump_json(indent=2))
        return
    table = Table("#", "at", "rule", "outcome", "trigger")
    for d in log.decisions:
        table.add_row(str(d.seq), f"{d.at:%Y-%m-%d %H:%M:%S}", d.rule_id, d.outcome, d.trigger)
    console.print(table)


@app.command("history")
def lead_history(lead_id: str, as_json: JsonOption = False) -> None:
    """The Temporal history of the lead's current run: every event, signal, timer, activity
    and update, in order (`--json`: the whole history as the Temporal UI exports it, its
    payloads decoded)."""
    from temporalio.api.enums.v1 import EventType

    if as_json:  # decoded with the installation's keys (an erased lead's no longer decode)
        print(on_lead(load_settings(), lead_id, _decoded_history).to_json())
        return
    found = on_lead(load_settings(), lead_id, lambda lead: lead.fetch_history())
    for event in found.events:  # one line each, so it greps and pipes well
        kind = EventType.Name(event.event_type).removeprefix("EVENT_TYPE_").lower()
        when = f"{event.event_time.ToDatetime():%Y-%m-%d %H:%M:%S}"
        detail = _history_detail(event)
        console.print(f"{event.event_id:>5}  {when}  {kind:<44} {detail}", highlight=False)


async def _decoded_history(lead: Any) -> Any:
    from starter.payload_codec import EncryptionCodec, decode_history
    from starter.temporal import payload_keys

    history = await lead.fetch_history()
    await decode_history(history, EncryptionCodec(payload_keys(load_settings())))
    return history


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


@app.command("pause")
def lead_pause(
    lead_id: str,
    by: Annotated[str, typer.Option(help="who pauses (recorded)")],
    reason: Annotated[str, typer.Option(help="why (recorded)")],
) -> None:
    """Pause the lead's promotional nurture until resumed."""
    from models.lead_state import PauseRequest
    from workflows.lead import LeadWorkflow

    request = PauseRequest(by=by, reason=reason)
    _signal(lead_id, "pause", lambda lead: lead.signal(LeadWorkflow.pause, request))


@app.command("resume")
def lead_resume(
    lead_id: str,
    by: Annotated[str, typer.Option(help="who resumes (recorded)")],
    reason: Annotated[str | None, typer.Option(help="why (recorded)")] = None,
) -> None:
    """Resume a paused lead's nurture."""
    from models.lead_state import ResumeRequest
    from workflows.lead import LeadWorkflow

    request = ResumeRequest(by=by, reason=reason)
    _signal(lead_id, "resume", lambda lead: lead.signal(LeadWorkflow.resume, request))


def _signal(lead_id: str, name: str, send: Callable[[LeadHandle], Awaitable[None]]) -> None:
    """Send a signal to the lead's workflow (delivered, not yet handled) and say so."""
    on_lead(load_settings(), lead_id, send)
    console.print(f"{name} sent to {lead_id}")


@app.command("audit")
def lead_audit(
    lead_id: str,
    format: Annotated[
        Literal["json", "csv"] | None, typer.Option("--format", help="export as JSON or CSV")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="same as --format json")] = False,
) -> None:
    """The lead's audit trail (as GET /v1/leads/{id}/audit): decisions of every run, sends,
    consent, reviews and case references, oldest first."""
    from temporalio.service import RPCError, RPCStatusCode

    from starter.audit import as_csv, audit_trail

    if as_json and format == "csv":
        fail("give --format csv or --json, not both", 2)
    settings = load_settings()
    try:
        found = run_service(settings, lambda client, db: audit_trail(client, db, settings, lead_id))
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise
        fail(f"no lead {lead_id}", 1)
    if format == "csv":
        print(as_csv(found), end="")
    elif format == "json" or as_json:
        print(found.model_dump_json(indent=2))
    else:
        _print_trail(found)


def _print_trail(trail: AuditTrail) -> None:
    """The audit trail as a table, then where its workflow is in the Temporal UI."""
    from rich.table import Table

    table = Table("at", "kind", "actor", "what")
    for e in trail.entries:
        table.add_row(f"{e.at:%Y-%m-%d %H:%M:%S}", e.kind, e.actor, e.what)
    console.print(table)
    console.print(f"workflow: {trail.workflow_url}", highlight=False)
