"""Segment-spec intake: `POST /segment/v1/batch|identify|track|page` (DESIGN §5).

A Segment or RudderStack client works unchanged with its host set to `http://<api>/segment`.
The write key is a Leadflow API key with the `events:write` scope, sent as the HTTP Basic user
(password empty) or as `writeKey` in the body. Each message is converted to the Leadflow
envelope and goes through the same `Intake` as `POST /v1/events`.

Segment clients look only at the HTTP status (they retry 429 and 5xx), so a processed batch is
answered 200 with one result per message: `accepted`, `duplicate`, `rejected` (each bad field
named, in Segment's terms) or `ignored` (a call that carries no lead event, or an unmapped
`track` name under `segment.unmapped: record`, see models/segment.py). Errors that stop the
whole request are `{"code", "message"}`, the shape Segment clients report.

Segment `userId` / `anonymousId` values are linked (hashed) to the lead the first time they
arrive with an email, NPI or CRM id, so later calls carrying only the id reach the same lead.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from models.events import EventRejected, EventResult, EventType, LeadEventIn
from models.segment_mapping import SegmentMapping
from models.tables import Lead, SegmentUnmappedEvent, SegmentUser, utcnow
from starter.auth import KeyHolder
from starter.identity import IdentityConflict, survivor
from starter.intake import (
    MAX_BATCH,
    MAX_BODY_BYTES,
    EventPayloadError,
    Intake,
    IntakeRules,
    validate_event,
)
from starter.keys import key_holder

log = structlog.get_logger(__name__)

SCOPE = "events:write"
IDENTIFIERS = ("email", "npi", "crm_id")
MAX_MESSAGE_ID = 200  # the envelope's event_id limit
NO_LEAD_EVENT = ("group", "alias")


class SegmentIgnored(BaseModel):
    """A message that is fine but carries nothing for a lead; not delivered."""

    event_id: str
    lead_id: None = None
    status: str = "ignored"
    reason: str


class SegmentAnswer(BaseModel):
    """The 200 answer: one result per message, in order."""

    success: bool = True
    results: list[EventResult | EventRejected | SegmentIgnored]


class RequestRefused(Exception):
    """A request refused as a whole, answered `{"code", "message"}` with `status`."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


# --- The body -------------------------------------------------------------------------------


def decode_body(raw: bytes, content_encoding: str | None) -> bytes:
    """The body, gunzipped when it says so, never more than MAX_BODY_BYTES.

    Decompression stops at the cap, so a gzip bomb costs at most that much memory.
    """
    encoding = (content_encoding or "identity").strip().lower()
    if encoding == "identity":
        data = raw
    elif encoding == "gzip":
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            data = inflater.decompress(raw, MAX_BODY_BYTES + 1)
        except zlib.error as err:
            raise RequestRefused(400, "invalid_request", f"body is not valid gzip: {err}") from err
        if inflater.unconsumed_tail:  # more output than the cap allows
            raise _too_large()
        if not inflater.eof:
            raise RequestRefused(400, "invalid_request", "gzip body is truncated")
    else:
        raise RequestRefused(
            415, "unsupported_encoding", f"Content-Encoding {encoding!r}: send gzip or none"
        )
    if len(data) > MAX_BODY_BYTES:
        raise _too_large()
    return data


def _too_large() -> RequestRefused:
    message = f"body over {MAX_BODY_BYTES} bytes (after decompression); send smaller batches"
    return RequestRefused(413, "payload_too_large", message)


def parse_messages(body: bytes, kind: str | None) -> tuple[list[Any], str | None, Any]:
    """The messages of a batch (`kind` None) or one `kind` call, the body's `writeKey`, and the
    batch's `sentAt`."""
    try:
        raw = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise RequestRefused(400, "invalid_request", f"body is not valid JSON: {err}") from err
    if not isinstance(raw, dict):
        raise RequestRefused(400, "invalid_request", "body must be a JSON object")
    write_key = raw.get("writeKey") if isinstance(raw.get("writeKey"), str) else None
    if kind is not None:
        return [{**raw, "type": kind}], write_key, None
    batch = raw.get("batch")
    if not isinstance(batch, list) or len(batch) > MAX_BATCH:
        raise RequestRefused(
            400, "invalid_request", f"batch: must be a list of at most {MAX_BATCH} messages"
        )
    return batch, write_key, raw.get("sentAt")


# --- The write key --------------------------------------------------------------------------


def header_key(authorization: str | None) -> str | None:
    """The write key from `Basic base64(key:)` (or a Bearer key), if any."""
    scheme, _, value = (authorization or "").strip().partition(" ")
    if scheme.lower() == "bearer":
        return value.strip() or None
    if scheme.lower() != "basic":
        return None
    try:
        user = base64.b64decode(value.strip(), validate=True).decode().partition(":")[0]
    except (binascii.Error, UnicodeDecodeError):
        return None
    return user or None


def authorize(request: Request, key: str | None) -> KeyHolder:
    """The holder of `key`, which must have the events:write scope."""
    if not key:
        raise RequestRefused(
            401,
            "unauthorized",
            "missing write key: send it as the HTTP Basic user or as writeKey in the body",
        )
    state = request.app.state
    holder = key_holder(state.keyring, state.db, key)
    if holder is None:
        raise RequestRefused(401, "unauthorized", "unknown or revoked write key")
    if SCOPE not in holder.scopes:
        raise RequestRefused(403, "forbidden", f"this write key lacks the '{SCOPE}' scope")
    return holder  # type: ignore[no-any-return]


# --- One message to the Leadflow envelope --------------------------------------------------


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


# --- Database: linked ids and unmapped names -------------------------------------------------


def _hash(source_id: str) -> str:
    return hashlib.sha256(source_id.encode()).hexdigest()


def known_identifiers(db: Engine, source_ids: list[str]) -> dict[str, str]:
    """The identifiers of the lead a userId/anonymousId was linked to (userId first)."""
    with Session(db) as session:
        for source_id in source_ids:
            link = session.get(SegmentUser, _hash(source_id))
            lead = session.get(Lead, link.lead_id) if link else None
            if lead is not None:
                lead = survivor(session, lead)  # merged by a data steward
                found = {name: getattr(lead, name) for name in IDENTIFIERS}
                if any(found.values()):
                    return {name: value for name, value in found.items() if value}
    return {}


def link(db: Engine, source_ids: list[str], lead_id: str) -> None:
    """Link each id to the lead (the latest identified lead wins for a shared device)."""
    with Session(db) as session:
        for source_id in source_ids:
            session.merge(
                SegmentUser(source_id_hash=_hash(source_id), lead_id=lead_id, linked_at=utcnow())
            )
            try:
                session.commit()
            except IntegrityError:  # linked concurrently by another request: that one stands
                session.rollback()


def record_unmapped(db: Engine, event_id: str, name: str) -> None:
    with Session(db) as session:
        session.merge(
            SegmentUnmappedEvent(message_id=event_id, event_name=name, received_at=utcnow())
        )
        try:
            session.commit()
        except IntegrityError:
            session.rollback()


# --- The routes ---------------------------------------------------------------------------


router = APIRouter(prefix="/segment", tags=["segment"])
BODY_DOC = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
}


def intake_of(request: Request) -> Intake:
    """The app's one intake service, made once the client and database are connected."""
    state = request.app.state
    if state.intake is None:
        rules = IntakeRules.of(state.program)
        state.intake = Intake(state.client, state.db, state.settings.task_queue, rules)
    return state.intake  # type: ignore[no-any-return]


async def _intake(request: Request, kind: str | None) -> JSONResponse:
    try:
        holder, messages, sent_at = await _authorized_messages(request, kind)
    except RequestRefused as err:
        content = {"success": False, "code": err.code, "message": err.message}
        return JSONResponse(status_code=err.status, content=content)
    results = await _submit(request, messages, sent_at, batch=kind is None)
    counts = {s: sum(r.status == s for r in results) for s in {r.status for r in results}}
    log.info("segment messages received", key_name=holder.name, **counts)
    return JSONResponse(SegmentAnswer(results=results).model_dump(mode="json"))


async def _authorized_messages(
    request: Request, kind: str | None
) -> tuple[KeyHolder, list[Any], Any]:
    """Check a header key before reading the body; a key in the body once it is parsed."""
    header = header_key(request.headers.get("authorization"))
    holder = await asyncio.to_thread(authorize, request, header) if header else None
    raw = await _read_capped(request)
    body = decode_body(raw, request.headers.get("content-encoding"))
    messages, write_key, sent_at = parse_messages(body, kind)
    if holder is None:
        holder = await asyncio.to_thread(authorize, request, write_key)
    return holder, messages, sent_at


async def _read_capped(request: Request) -> bytes:
    """The raw body, refused as soon as it passes the limit (compressed bodies too)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise _too_large()
        chunks.append(chunk)
    return b"".join(chunks)


async def _submit(
    request: Request, messages: list[Any], sent_at: Any, *, batch: bool
) -> list[EventResult | EventRejected | SegmentIgnored]:
    state = request.app.state
    program = state.program
    results: list[EventResult | EventRejected | SegmentIgnored] = []
    received_at = datetime.now(UTC)
    for index, message in enumerate(messages):
        prefix = f"batch.{index}." if batch else ""
        converted = convert(
            message, program.segment, prefix=prefix, sent_at=sent_at, received_at=received_at
        )
        results.append(await _deliver(state.db, intake_of(request), converted, prefix))
    return results


async def _deliver(
    db: Engine, intake: Intake, converted: Converted | Skipped, prefix: str
) -> EventResult | EventRejected | SegmentIgnored:
    if isinstance(converted, Skipped):
        if converted.record_name is not None:
            await asyncio.to_thread(
                record_unmapped, db, converted.result.event_id, converted.record_name
            )
        return converted.result
    if not has_identifier(converted):
        known = await asyncio.to_thread(known_identifiers, db, converted.source_ids)
        if not known:
            return unidentified(converted, prefix)
        converted.envelope["lead"] |= known
    event = validated(converted, prefix)
    if isinstance(event, EventRejected):
        return event
    try:
        [result] = await intake.submit([event])
    except IdentityConflict as err:
        problem = {"field": f"{prefix}traits", "message": str(err).removeprefix("lead: ")}
        return EventRejected(event_id=event.event_id, errors=[problem])
    await asyncio.to_thread(link, db, converted.source_ids, result.lead_id)
    return result


def _route(kind: str | None, path: str, summary: str) -> None:
    async def endpoint(request: Request) -> JSONResponse:
        return await _intake(request, kind)

    endpoint.__doc__ = summary
    router.add_api_route(
        path,
        endpoint,
        methods=["POST"],
        name=f"segment_{kind or 'batch'}",
        response_model=SegmentAnswer,
        openapi_extra=BODY_DOC,
    )


_route(None, "/v1/batch", "A Segment batch (what Segment and RudderStack clients send).")
_route("identify", "/v1/identify", "One Segment identify call.")
_route("track", "/v1/track", "One Segment track call; its event name is mapped by the program.")
_route("page", "/v1/page", "One Segment page call (a `page_viewed` event).")
