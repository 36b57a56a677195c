"""The Temporal payload codec: every payload Leadflow hands to Temporal, encrypted.

Payloads of workflow `lead-<id>` (and of its activities) use that lead's data key; all others
(safety cases, CRM webhooks, payloads without context) use the shared system key. Each
encrypted payload's metadata names the encoding and the key id, so decoding needs no context,
and payloads recorded before encryption (no such encoding) pass through unchanged."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from typing import Self

from cryptography.exceptions import InvalidTag
from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload
from temporalio.client import WorkflowHistory
from temporalio.converter import (
    ActivitySerializationContext,
    PayloadCodec,
    SerializationContext,
    WithSerializationContext,
    WorkflowSerializationContext,
)

from leadflow_domain.payload_crypto import DataKeyStore, DataKeyUnavailable, seal, unseal
from models.lead_state import LEAD_WORKFLOW_PREFIX

ENCODING = b"binary/encrypted-aes256gcm"
KEY_ID = "encryption-key-id"


def lead_of(context: SerializationContext | None) -> str | None:
    """The lead whose workflow a payload belongs to, if any."""
    if isinstance(context, WorkflowSerializationContext | ActivitySerializationContext):
        workflow_id = context.workflow_id or ""
        if workflow_id.startswith(LEAD_WORKFLOW_PREFIX):
            return workflow_id.removeprefix(LEAD_WORKFLOW_PREFIX) or None
    return None


class EncryptionCodec(PayloadCodec, WithSerializationContext):
    """AES-256-GCM with the data key of the payload's lead (or the system key)."""

    def __init__(self, keys: DataKeyStore, lead_id: str | None = None) -> None:
        self.keys = keys
        self.lead_id = lead_id

    def with_context(self, context: SerializationContext) -> Self:
        return type(self)(self.keys, lead_of(context))

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        if not payloads:
            return []
        found = self.keys.cached_current_key(self.lead_id)
        if found is None:
            # A key not yet cached comes from the database: off the event loop.
            found = await asyncio.to_thread(self.keys.current_key, self.lead_id)
        key_id, key = found
        return [
            Payload(
                metadata={"encoding": ENCODING, KEY_ID: key_id.encode()},
                data=seal(key, payload.SerializeToString(), key_id.encode()),
            )
            for payload in payloads
        ]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [await self._decode(payload) for payload in payloads]

    async def _decode(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload  # recorded in clear (before encryption): left as it is
        key_id = payload.metadata.get(KEY_ID, b"").decode()
        if not key_id:
            raise DataKeyUnavailable("(none)", "named: metadata.encryption-key-id is missing")
        key = self.keys.cached_key(key_id)
        if key is None:
            key = await asyncio.to_thread(self.keys.key, key_id)
        try:
            return Payload.FromString(unseal(key, payload.data, key_id.encode()))
        except (InvalidTag, ValueError):  # altered, or cut short (no room for the nonce)
            # Never hand back garbage: name the key, say what failed.
            raise DataKeyUnavailable(key_id, "does not decrypt this payload (altered?)") from None


def history_payloads(history: WorkflowHistory) -> list[Payload]:
    """Every payload of every event: inputs, signals, results, markers, memos, ..."""
    return [p for event in history.events for p in _payloads(event)]


async def decode_history(history: WorkflowHistory, codec: PayloadCodec) -> None:
    """Decode every payload in place, e.g. to save a history that replays without the keys."""
    for payload in history_payloads(history):
        [decoded] = await codec.decode([payload])
        if decoded is not payload:
            payload.CopyFrom(decoded)


def _payloads(message: Message) -> Iterator[Payload]:
    if isinstance(message, Payload):
        yield message
        return
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        if field.message_type.GetOptions().map_entry:
            values = value.values()
        elif field.is_repeated:
            values = value
        else:
            values = [value]
        for item in values:
            if isinstance(item, Message):
                yield from _payloads(item)
