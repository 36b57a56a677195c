"""`POST /v1/events`: lead events in, one at a time or as a batch."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, status
from temporalio.client import WorkflowUpdateFailedError

from models.events import EventBatchIn, EventDecided, EventResult, EventsAccepted, LeadEventIn
from starter.api.deps import IntakeDep, require
from starter.intake import MAX_BODY_BYTES, Intake, parse_body

router = APIRouter(prefix="/v1/events", tags=["events"])

# The body is read and parsed by the route itself (for its own size limit and error names),
# so its schema, one event or a batch, is given to the OpenAPI document here.
EVENT_BODY_SCHEMA = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [
                        LeadEventIn.model_json_schema(ref_template="#/components/schemas/{model}"),
                        EventBatchIn.model_json_schema(ref_template="#/components/schemas/{model}"),
                    ]
                }
            }
        },
    }
}


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    openapi_extra=EVENT_BODY_SCHEMA,
    dependencies=[require("events:write")],
    response_model=EventResult | EventsAccepted | EventDecided,
)
async def post_events(
    request: Request,
    intake: IntakeDep,
    wait: Annotated[
        bool, Query(description="single event only: wait for the lead's decision")
    ] = False,
) -> EventResult | EventsAccepted | EventDecided:
    """Accept one event or `{"events": [...]}`; 422 names any bad field."""
    parsed = parse_body(await _json_body(request))
    if wait:
        if parsed.is_batch:
            raise HTTPException(422, "wait=true takes one event, not a batch")
        return await _decided(intake, parsed.events[0])
    results = await intake.submit(parsed.events)
    if not parsed.is_batch:
        return results[0]
    return EventsAccepted(results=[*results, *parsed.rejected])


async def _json_body(request: Request) -> bytes:
    if "json" not in request.headers.get("content-type", ""):
        raise HTTPException(415, "send the events as application/json")
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        raise HTTPException(413, f"body over {MAX_BODY_BYTES} bytes; send smaller batches")
    return body


async def _decided(intake: Intake, event: LeadEventIn) -> EventDecided:
    """Deliver one event and wait for what the lead's workflow decided about it."""
    try:
        lead_id, outcome = await intake.submit_and_wait(event)
    except WorkflowUpdateFailedError as err:
        raise HTTPException(422, f"the lead refused the event: {err.cause}") from err
    return EventDecided(
        event_id=outcome.event_id,
        lead_id=lead_id,
        status="duplicate" if outcome.status == "duplicate" else "accepted",
        outcome=outcome.model_dump(mode="json"),
    )
