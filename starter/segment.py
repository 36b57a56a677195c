"""Segment-spec routes: `POST /segment/v1/batch|identify|track|page`."""

from __future__ import annotations

import asyncio
from typing import Any

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from starter.auth import KeyHolder
from starter.intake import MAX_BODY_BYTES, Intake, IntakeRules
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
    mapping = request.app.state.program.segment
    results = await submit_messages(
        intake_of(request), mapping, messages, sent_at, batch=kind is None
    )
    counts = {s: sum(r.status == s for r in results) for s in {r.status for r in results}}
    log.info("segment messages received", key_name=holder.name, **counts)
    return JSONResponse(SegmentAnswer(results=results).model_dump(mode="json"))


async def _authorized_messages(
    request: Request, kind: str | None
) -> tuple[KeyHolder, list[Any], Any]:
    """Check a header key before reading the body; a key in the body once it is parsed."""
    header = header_key(request.headers.get("authorization"))
    holder = await _authorize(request, header) if header else None
    raw = await _read_capped(request)
    body = decode_body(raw, request.headers.get("content-encoding"))
    messages, write_key, sent_at = parse_messages(body, kind)
    if holder is None:
        holder = await _authorize(request, write_key)
    return holder, messages, sent_at


async def _authorize(request: Request, key: str | None) -> KeyHolder:
    state = request.app.state
    return await asyncio.to_thread(authorize, state.keyring, state.db, key)


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
