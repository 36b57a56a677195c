"""Checks on an event inside the workflow: a bad event is rejected and logged, never raised."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from models.events import EventType, LeadEvent

KNOWN_TYPES = frozenset(t.value for t in EventType)


class _Props(BaseModel):
    """Properties every event may carry; the ones with meaning must have the right shape."""

    model_config = ConfigDict(extra="allow")

    topics: list[str] = []
    asset_id: str | None = None
    channel: str | None = None
    purpose: str | None = None


class _BounceProps(_Props):
    bounce_type: Literal["hard", "soft"]


# Event types whose properties need more than the common shape.
PROPERTY_MODELS: dict[str, type[_Props]] = {"email_bounced": _BounceProps}


def rejection(event: LeadEvent) -> str | None:
    """Why the workflow cannot use this event, naming the field; None when it can."""
    if event.type not in KNOWN_TYPES:
        return f"type: unknown event type {event.type!r}"
    model = PROPERTY_MODELS.get(event.type, _Props)
    try:
        model.model_validate(event.properties)
    except ValidationError as err:
        first = err.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        return f"properties.{field}: {first['msg']}"
    return None


def prop(event: LeadEvent, name: str) -> Any:
    return event.properties.get(name)


def property_key(value: object) -> str | None:
    """A channel, purpose or source as a comparable key; anything not a plain string is
    'unknown'."""
    if value is None or value == "":
        return None
    return value.strip().lower() if isinstance(value, str) else "unknown"
