"""One Segment message as a Leadflow envelope: its type, lead object, time and properties."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from models.events import EventRejected, EventType, LeadEventIn
from models.segment_mapping import SegmentMapping
from starter.intake.parse import EventPayloadError, validate_event

IDENTIFIERS = ("email", "npi", "crm_id")
MAX_MESSAGE_ID = 200  # the envelope's event_id limit
NO_LEAD_EVENT = ("group", "alias")


class SegmentIgnored(BaseModel):
    """A message that is fine but carries nothing for a lead; not delivered."""

    event_id: str
    lead_id: None = None
    status: str = "ignored"
    reason: str


@dataclass
class Converted:
    """A message as a Leadflow envelope, with where each field came from (for errors)."""

    envelope: dict[str, Any]
    sources: dict[str, str]
    source_ids: list[str] = field(default_factory=list)


@dataclass
class Skipped:
    """A message that is not delivered; `record_name` is an unmapped name to keep."""

    result: EventRejected | SegmentIgnored
    record_name: str | None = None


def _dig(data: Any, *path: str) -> Any:
    for step in path:
        if not isinstance(data, dict):
            return None
        data = data.get(step)
    return data


def _text(value: Any) -> str | None:
    if isinstance(value, bool) or value is None or isinstance(value, dict | list):
        return None
    text = str(value).strip()
    return text or None


# Leadflow lead field -> where Segment keeps it, first found wins ("context." paths are the
# message's context; the others are traits, the call's own before context.traits).
LEAD_FIELDS: dict[str, tuple[str, ...]] = {
    "email": ("email",),
    "npi": ("npi",),
    "crm_id": ("crm_id", "crmId"),
    "first_name": ("firstName", "first_name"),
    "last_name": ("lastName", "last_name"),
    "role": ("role",),
    "specialty": ("specialty",),
    "organization": ("organization", "company.name", "company"),
    "org_type": ("org_type",),
    "country": ("country", "address.country"),
    "postal_code": ("postal_code", "postalCode", "address.postalCode", "address.postal_code"),
    "time_zone": ("time_zone", "context.timezone"),
}
TIMESTAMPS = ("timestamp", "originalTimestamp", "sentAt", "receivedAt")


def lead_object(message: dict[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    """The Leadflow `lead` object from a message's traits, and each field's Segment path."""
    bags = [
        ("traits", message.get("traits")),
        ("context.traits", _dig(message, "context", "traits")),
    ]
    lead: dict[str, str] = {}
    sources: dict[str, str] = {}
    for name, paths in LEAD_FIELDS.items():
        for path in paths:
            if path.startswith("context."):
                found = [(path, _text(_dig(message, *path.split("."))))]
            else:
                found = [
                    (f"{bag}.{path}", _text(_dig(data, *path.split(".")))) for bag, data in bags
                ]
            where, value = next(((w, v) for w, v in found if v is not None), ("", None))
            if value is not None:
                lead[name], sources[f"lead.{name}"] = value, where
                break
    return lead, sources


def leadflow_type(
    message: dict[str, Any], mapping: SegmentMapping, prefix: str, event_id: str
) -> EventType | Skipped:
    """The Leadflow type of a message, or why it is not delivered."""
    kind = message.get("type")
    if kind == "identify":
        return EventType.IDENTIFY
    if kind in ("page", "screen"):
        return EventType.PAGE_VIEWED
    if kind in NO_LEAD_EVENT:
        reason = f"Segment {kind} calls carry no lead event"
        return Skipped(SegmentIgnored(event_id=event_id, reason=reason))
    if kind != "track":
        problem = {"field": f"{prefix}type", "message": f"unsupported Segment call type {kind!r}"}
        return Skipped(EventRejected(event_id=event_id, errors=[problem]))
    name = _text(message.get("event"))
    if name is None:
        problem = {"field": f"{prefix}event", "message": "a track call needs an event name"}
        return Skipped(EventRejected(event_id=event_id, errors=[problem]))
    mapped = mapping.type_for(name)
    if mapped is not None:
        return mapped
    reason = f"event {name!r} is not mapped to a Leadflow type in the program's segment.events"
    if mapping.unmapped == "record":
        return Skipped(SegmentIgnored(event_id=event_id, reason=reason), record_name=name[:200])
    problem = {"field": f"{prefix}event", "message": reason}
    return Skipped(EventRejected(event_id=event_id, errors=[problem]))


def message_id(message: dict[str, Any]) -> str:
    """The message's `messageId`; without one, a stable id from its content, so a resent
    identical message is still recognised as a duplicate."""
    given = _text(message.get("messageId"))
    if given and len(given) <= MAX_MESSAGE_ID:
        return given
    if given:  # longer than an event id may be: a stable id made from it
        return f"segment-{hashlib.sha256(given.encode()).hexdigest()[:32]}"
    digest = hashlib.sha256(json.dumps(message, sort_keys=True, default=str).encode()).hexdigest()
    return f"segment-{digest[:32]}"


def convert(
    message: Any,
    mapping: SegmentMapping,
    *,
    prefix: str = "",
    sent_at: Any = None,
    received_at: datetime | None = None,
) -> Converted | Skipped:
    """One Segment message as a Leadflow envelope (not yet validated), or why it is skipped."""
    if not isinstance(message, dict):
        problem = {"field": prefix.rstrip(".") or "body", "message": "must be a JSON object"}
        event_id = f"#{prefix.rstrip('.') or 'body'}"
        return Skipped(EventRejected(event_id=event_id, errors=[problem]))
    event_id = message_id(message)
    event_type = leadflow_type(message, mapping, prefix, event_id)
    if isinstance(event_type, Skipped):
        return event_type
    lead, sources = lead_object(message)
    sources |= {"event_id": "messageId", "type": "event"}
    found = [(name, message.get(name)) for name in TIMESTAMPS] + [("sentAt", sent_at)]
    where, occurred = next(((w, v) for w, v in found if v), ("receivedAt", None))
    sources["occurred_at"] = where
    properties = _properties(message, event_type)
    envelope = {
        "event_id": event_id,
        "type": event_type.value,
        "occurred_at": occurred or (received_at or datetime.now(UTC)).isoformat(),
        "lead": lead,
        "properties": properties,
    }
    ids = [f"user:{message['userId']}"] if _text(message.get("userId")) else []
    ids += [f"anon:{message['anonymousId']}"] if _text(message.get("anonymousId")) else []
    return Converted(envelope, sources, ids)


def _properties(message: dict[str, Any], event_type: EventType) -> dict[str, Any]:
    given = message.get("properties")
    properties = dict(given) if isinstance(given, dict) else {}
    if event_type is EventType.PAGE_VIEWED:
        url = properties.get("url") or _dig(message, "context", "page", "url")
        title = _text(message.get("name")) or properties.get("title")
        properties |= {k: v for k, v in (("url", url), ("title", title)) if v}
    return properties


def has_identifier(converted: Converted) -> bool:
    return any(converted.envelope["lead"].get(name) for name in IDENTIFIERS)


def validated(converted: Converted, prefix: str) -> LeadEventIn | EventRejected:
    """The envelope checked exactly as /v1/events checks it; errors in Segment's field names."""
    try:
        return validate_event(converted.envelope)
    except EventPayloadError as err:
        problems = [
            {**p, "field": prefix + _segment_field(p["field"], converted.sources)}
            for p in err.problems
        ]
        return EventRejected(event_id=converted.envelope["event_id"], errors=problems)


def _segment_field(leadflow_field: str, sources: dict[str, str]) -> str:
    if leadflow_field in sources:
        return sources[leadflow_field]
    if leadflow_field == "lead":
        return "traits"
    return leadflow_field


def unidentified(converted: Converted, prefix: str) -> EventRejected:
    message = (
        "no email, npi or crm_id in traits or context.traits, and no userId or anonymousId "
        "seen before with one: the lead cannot be identified"
    )
    problem = {"field": f"{prefix}traits.email", "message": message}
    return EventRejected(event_id=converted.envelope["event_id"], errors=[problem])
