"""Parsing at the edge: one event or a batch, checked exactly as the lead's workflow checks it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from models.events import EventRejected, LeadEvent, LeadEventIn
from workflows.checks import rejection

MAX_BATCH = 500
MAX_BODY_BYTES = 1_000_000  # per request body: workflow payloads stay far below Temporal's 2 MB


class EventPayloadError(ValueError):
    """A payload that cannot be accepted; `problems` name each bad field."""

    def __init__(self, problems: list[dict[str, Any]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{p['field']}: {p['message']}" for p in problems))


def _problems(err: ValidationError, prefix: str = "") -> list[dict[str, Any]]:
    return [
        {"field": prefix + (".".join(str(p) for p in e["loc"]) or "body"), "message": e["msg"]}
        for e in err.errors()
    ]


def validate_event(raw: Any, prefix: str = "") -> LeadEventIn:
    """One event, checked at the edge exactly as its workflow will check it.

    Raises:
        EventPayloadError: naming every bad field, each prefixed with `prefix`.
    """
    try:
        event = LeadEventIn.model_validate(raw)
    except ValidationError as err:
        raise EventPayloadError(_problems(err, prefix)) from err
    problem = rejection(LeadEvent.from_intake(event))
    if problem:
        field, message = problem.split(": ", 1)
        raise EventPayloadError([{"field": prefix + field, "message": message}])
    return event


@dataclass(frozen=True)
class ParsedBody:
    """A request body: the good events, and one rejection per bad event of a batch."""

    events: list[LeadEventIn]
    is_batch: bool
    rejected: list[EventRejected] = field(default_factory=list)


def parse_body(body: bytes) -> ParsedBody:
    """Validate one event or `{"events": [...]}`. A single bad event, or a body that is not
    a batch at all, raises; in a batch, bad events are rejected one by one and the good ones
    go ahead.

    Raises:
        EventPayloadError: naming every bad field (for example `events.0.type`).
    """
    try:
        raw = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise EventPayloadError([{"field": "body", "message": f"not valid JSON: {err}"}]) from err
    if not isinstance(raw, dict):
        raise EventPayloadError([{"field": "body", "message": "must be a JSON object"}])
    if "events" not in raw:
        return ParsedBody([validate_event(raw)], is_batch=False)
    items = raw["events"]
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_BATCH:
        raise EventPayloadError(
            [{"field": "events", "message": f"must be a list of 1 to {MAX_BATCH} events"}]
        )
    parsed = ParsedBody([], is_batch=True)
    for index, item in enumerate(items):
        try:
            parsed.events.append(validate_event(item, f"events.{index}."))
        except EventPayloadError as err:
            event_id = item.get("event_id") if isinstance(item, dict) else None
            parsed.rejected.append(
                EventRejected(event_id=str(event_id or f"#{index}"), errors=err.problems)
            )
    return parsed


def parse_events(body: bytes) -> tuple[list[LeadEventIn], bool]:
    """All-or-nothing validation (the CLI): the events, and whether the body was a batch."""
    parsed = parse_body(body)
    if parsed.rejected:
        raise EventPayloadError([p for r in parsed.rejected for p in r.errors])
    return parsed.events, parsed.is_batch
