"""The program's `segment:` section: which Segment `track` event names are which Leadflow types.

Names are matched case- and whitespace-insensitively ("content  downloaded" is "Content
Downloaded"), and every Leadflow type's own snake_case name maps to itself, so a source may
send `track("content_downloaded")` without a table entry.

`unmapped` says what happens to a `track` event whose name is in neither:
- `reject` (the default): the event is answered `rejected`, the error naming its `event` and
  the unknown name; nothing is stored or delivered.
- `record`: the event is answered `ignored`; its message id and name (no identifiers, no
  properties) are kept in the `segment_unmapped_event` table, so ops can see which names a
  source sends and map them, but nothing reaches a lead: an unmapped name has no meaning the
  workflow could score, and guessing one (e.g. `form_submitted`) would move leads on noise.

Imported by the program models inside the workflow sandbox: pydantic and models.events only.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from models.events import EventType


def event_name_key(name: str) -> str:
    """How a Segment event name is compared: case-folded, whitespace collapsed."""
    return " ".join(name.split()).casefold()


class SegmentMapping(BaseModel):
    """Segment `track` event names -> Leadflow event types, and what to do with the rest."""

    model_config = ConfigDict(extra="forbid")

    events: dict[str, EventType] = Field(
        default_factory=dict,
        description='Segment event name -> Leadflow type, e.g. "Demo Requested"',
    )
    unmapped: Literal["reject", "record"] = Field(
        default="reject",
        description="reject: answer rejected; record: keep the name, answer ignored",
    )

    @field_validator("events")
    @classmethod
    def _names_distinct(cls, events: dict[str, EventType]) -> dict[str, EventType]:
        seen: dict[str, EventType] = {}
        for name, event_type in events.items():
            key = event_name_key(name)
            if not key:
                raise ValueError("an event name must not be blank")
            if seen.get(key, event_type) is not event_type:
                raise ValueError(f"{name!r} maps to two types once case and spaces are ignored")
            seen[key] = event_type
        return events

    def type_for(self, name: str) -> EventType | None:
        """The Leadflow type a `track` event name stands for, or None when it is unmapped."""
        key = event_name_key(name)
        for mapped, event_type in self.events.items():
            if event_name_key(mapped) == key:
                return event_type
        try:
            return EventType(key)
        except ValueError:
            return None
