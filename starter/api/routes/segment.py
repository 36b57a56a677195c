"""`POST /segment/v1/batch|identify|track|page`: the Segment HTTP tracking API, so a Segment or
RudderStack client works with its host set to `http://<api>/segment` (see starter.intake.segment).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from models.segment_mapping import SegmentMapping
from starter.api.deps import IntakeDep, KeyRingDep, ProgramDep
from starter.auth import KeyHolder, KeyRing
from starter.intake import MAX_BODY_BYTES, Intake
from starter.intake.segment import (
    RequestRefused,
    SegmentAnswer,
    authorize,
    decode_body,
    header_key,
    parse_messages,
    submit_messages,
    too_large,
)

log = structlog.get_logger(__name__)

router = APIRouter(prefix="/segment", tags=["segment"])

# The body is read by the route itself (capped, maybe gzipped): its schema is only named here.
BODY_DOC = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
}


@dataclass(frozen=True)
class Receiver:
    """What a Segment call needs: the keys, the intake service and the program's mapping."""

    keyring: KeyRing
    intake: Intake
    mapping: SegmentMapping


async def get_receiver(keyring: KeyRingDep, intake: IntakeDep, program: ProgramDep) -> Receiver:
    """What a Segment call needs, from the app's dependencies."""
    return Receiver(keyring, intake, program.segment)


ReceiverDep = Annotated[Receiver, Depends(get_receiver)]


@router.post("/v1/batch", response_model=SegmentAnswer, openapi_extra=BODY_DOC)
async def segment_batch(request: Request, receiver: ReceiverDep) -> JSONResponse:
    """A Segment batch (what Segment and RudderStack clients send)."""
    return await _receive(request, receiver, None)


@router.post("/v1/identify", response_model=SegmentAnswer, openapi_extra=BODY_DOC)
async def segment_identify(request: Request, receiver: ReceiverDep) -> JSONResponse:
    """One Segment identify call."""
    return await _receive(request, receiver, "identify")


@router.post("/v1/track", response_model=SegmentAnswer, openapi_extra=BODY_DOC)
async def segment_track(request: Request, receiver: ReceiverDep) -> JSONResponse:
    """One Segment track call; its event name is mapped by the program."""
    return await _receive(request, receiver, "track")


@router.post("/v1/page", response_model=SegmentAnswer, openapi_extra=BODY_DOC)
async def segment_page(request: Request, receiver: ReceiverDep) -> JSONResponse:
    """One Segment page call (a `page_viewed` event)."""
    return await _receive(request, receiver, "page")


async def _receive(request: Request, receiver: Receiver, kind: str | None) -> JSONResponse:
    """A batch (`kind` None) or one `kind` call: refused as a whole, or one result a message."""
    try:
        holder, messages, sent_at = await _authorized_messages(request, receiver, kind)
    except RequestRefused as err:
        content = {"success": False, "code": err.code, "message": err.message}
        return JSONResponse(status_code=err.status, content=content)
    results = await submit_messages(
        receiver.intake, receiver.mapping, messages, sent_at, batch=kind is None
    )
    counts = {s: sum(r.status == s for r in results) for s in {r.status for r in results}}
    log.info("segment messages received", key_name=holder.name, **counts)
    return JSONResponse(SegmentAnswer(results=results).model_dump(mode="json"))


async def _authorized_messages(
    request: Request, receiver: Receiver, kind: str | None
) -> tuple[KeyHolder, list[Any], Any]:
    """Check a header key before reading the body; a key in the body once it is parsed."""
    header = header_key(request.headers.get("authorization"))
    holder = await _authorize(receiver, header) if header else None
    raw = await _read_capped(request)
    body = decode_body(raw, request.headers.get("content-encoding"))
    messages, write_key, sent_at = parse_messages(body, kind)
    if holder is None:
        holder = await _authorize(receiver, write_key)
    return holder, messages, sent_at


async def _authorize(receiver: Receiver, key: str | None) -> KeyHolder:
    return await asyncio.to_thread(authorize, receiver.keyring, receiver.intake.db, key)


async def _read_capped(request: Request) -> bytes:
    """The raw body, refused as soon as it passes the limit (compressed bodies too)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise too_large()
        chunks.append(chunk)
    return b"".join(chunks)
