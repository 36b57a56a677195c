"""The payloads inside a workflow history, as stored (encrypted or not)."""

from __future__ import annotations

from collections.abc import Iterator

from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload
from temporalio.client import WorkflowHistory
from temporalio.converter import PayloadCodec


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
