"""A Segment request as it arrives: its write key and its body (maybe gzipped) of messages."""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from typing import Any

from sqlalchemy.engine import Engine

from starter.auth import KeyHolder, KeyRing
from starter.intake.parse import MAX_BATCH, MAX_BODY_BYTES
from starter.keys import key_holder

SCOPE = "events:write"


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
            raise too_large()
        if not inflater.eof:
            raise RequestRefused(400, "invalid_request", "gzip body is truncated")
    else:
        raise RequestRefused(
            415, "unsupported_encoding", f"Content-Encoding {encoding!r}: send gzip or none"
        )
    if len(data) > MAX_BODY_BYTES:
        raise too_large()
    return data


def too_large() -> RequestRefused:
    """The refusal of a body over MAX_BODY_BYTES, as sent or once decompressed."""
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


def authorize(keyring: KeyRing, db: Engine, key: str | None) -> KeyHolder:
    """The holder of `key`, which must have the events:write scope."""
    if not key:
        raise RequestRefused(
            401,
            "unauthorized",
            "missing write key: send it as the HTTP Basic user or as writeKey in the body",
        )
    holder = key_holder(keyring, db, key)
    if holder is None:
        raise RequestRefused(401, "unauthorized", "unknown or revoked write key")
    if SCOPE not in holder.scopes:
        raise RequestRefused(403, "forbidden", f"this write key lacks the '{SCOPE}' scope")
    return holder
