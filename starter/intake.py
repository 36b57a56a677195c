"""Event intake: the one service the API and the CLI call to deliver events to leads."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import structlog
from pydantic import ValidationError
from sqlalchemy.engine import Engine
from sqlmodel import Session
from temporalio.client import Client, WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy

from models.events import EventBatchIn, EventResult, LeadEvent, LeadEventIn
from models.lead import RECORD_EVENT, EventOutcome, LeadWorkflowInput
from starter.identity import resolve_lead
from workflows.lead import LeadWorkflow

log = structlog.get_logger(__name__)


class EventPayloadError(ValueError):
    """A payload that cannot be accepted; `problems` name each bad field."""

    def __init__(self, problems: list[dict[str, Any]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{p['field']}: {p['message']}" for p in problems))


def workflow_id(lead_id: str) -> str:
    return f"lead-{lead_id}"


def parse_events(body: bytes) -> tuple[list[LeadEventIn], bool]:
    """Validate a request body: one event or `{"events": [...]}`.

    Returns:
        The events, and whether the body was a batch.

    Raises:
        EventPayloadError: naming every bad field (for example `events.0.type`).
    """
    try:
        raw = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise EventPayloadError([{"field": "body", "message": f"not valid JSON: {err}"}]) from err
    if not isinstance(raw, dict):
        raise EventPayloadError([{"field": "body", "message": "must be a JSON object"}])
    is_batch = "events" in raw
    try:
        if is_batch:
            return EventBatchIn.model_validate(raw).events, True
        return [LeadEventIn.model_validate(raw)], False
    except ValidationError as err:
        raise EventPayloadError(
            [
                {"field": ".".join(str(p) for p in e["loc"]) or "body", "message": e["msg"]}
                for e in err.errors()
            ]
        ) from err


async def submit_events(
    client: Client, engine: Engine, task_queue: str, events: list[LeadEventIn]
) -> list[EventResult]:
    """Resolve each event's lead and signal-with-start its workflow."""
    results = []
    for event in events:
        lead_id = await asyncio.to_thread(_resolve, engine, event)
        await client.start_workflow(
            LeadWorkflow.run,
            LeadWorkflowInput(lead_id=lead_id),
            id=workflow_id(lead_id),
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            start_signal=RECORD_EVENT,
            start_signal_args=[LeadEvent.from_intake(event)],
        )
        log.info("event accepted", lead_id=lead_id, event_type=event.type.value)
        results.append(EventResult(event_id=event.event_id, lead_id=lead_id, status="accepted"))
    return results


async def submit_event_and_wait(
    client: Client, engine: Engine, task_queue: str, event: LeadEventIn
) -> tuple[str, EventOutcome]:
    """Deliver one event by update-with-start and return the lead id and the decision.

    The update id is the event id, so the server itself drops a repeated delivery.
    """
    lead_id = await asyncio.to_thread(_resolve, engine, event)
    start = WithStartWorkflowOperation(
        LeadWorkflow.run,
        LeadWorkflowInput(lead_id=lead_id),
        id=workflow_id(lead_id),
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )
    outcome = await client.execute_update_with_start_workflow(
        LeadWorkflow.submit_event,
        LeadEvent.from_intake(event),
        start_workflow_operation=start,
        id=event.event_id,
    )
    log.info("event decided", lead_id=lead_id, event_type=event.type.value, status=outcome.status)
    return lead_id, outcome


def _resolve(engine: Engine, event: LeadEventIn) -> str:
    with Session(engine) as session:
        return resolve_lead(session, event.lead)
