"""When the next touch is due: pure, deterministic decisions on the lead's state."""

from __future__ import annotations

from datetime import datetime

from models.events import EventType, LeadEvent
from models.lead import LeadState
from models.program import Program

FIRST_TOUCH_TRIGGERS = frozenset({EventType.CONTENT_DOWNLOADED})


def plan_first_touch(
    state: LeadState, event: LeadEvent, program: Program, now: datetime
) -> datetime | None:
    """The time of the first follow-up this event calls for, or None when it calls for none."""
    if event.type not in FIRST_TOUCH_TRIGGERS:
        return None
    if state.touches or state.next_touch_at is not None:
        return None
    return now + program.cadence.first_touch_delay


def touch_due(state: LeadState, now: datetime) -> bool:
    return state.next_touch_at is not None and state.next_touch_at <= now
