"""A program's nurture: sender, tracks and the rules that move leads between them, the
cadence (intervals, caps, quiet hours), stop rules and how long a run lives."""

from __future__ import annotations

from datetime import time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from models.events import EventType
from models.lead_state import Stage


class Sender(BaseModel):
    """Who the emails come from (every commercial email names its sender and postal address)."""

    model_config = ConfigDict(extra="forbid")

    name: str
    address: str
    postal_address: str


class Cap(BaseModel):
    """At most `max_sends` promotional emails in any rolling `window`."""

    model_config = ConfigDict(extra="forbid")

    window: timedelta
    max_sends: int = Field(ge=1)


class QuietHours(BaseModel):
    """Local hours (lead's time zone) when no nurture email goes out; may wrap midnight."""

    model_config = ConfigDict(extra="forbid")

    start: time
    end: time


class Cadence(BaseModel):
    """When touches go out. Every duration is ISO 8601."""

    model_config = ConfigDict(extra="forbid")

    first_touch_delay: timedelta = Field(description="after the event that starts a track")
    after_click: timedelta = Field(
        default=timedelta(days=2), description="next touch no later than this after a click"
    )
    rest_after: dict[EventType, timedelta] = Field(
        default_factory=dict, description="event type -> no touch until this long after it"
    )
    caps: list[Cap] = Field(default_factory=list)
    quiet_hours: QuietHours | None = None
    send_on_weekends: bool = False
    default_time_zone: str = "America/New_York"

    @field_validator("default_time_zone")
    @classmethod
    def _known_zone(cls, zone: str) -> str:
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError) as err:
            raise ValueError(f"unknown IANA time zone {zone!r}") from err
        return zone

    first_touch_respects_quiet_hours: bool = Field(
        default=False,
        description="the reply to a lead's own request may go out at once, at any hour",
    )


class Track(BaseModel):
    """A nurture path: approved assets in order, sent at the track's interval."""

    model_config = ConfigDict(extra="forbid")

    interval: timedelta
    assets: list[str] = Field(min_length=1)
    description: str = ""


class When(BaseModel):
    """Conditions on an event (all given ones must hold)."""

    model_config = ConfigDict(extra="forbid")

    types: list[EventType] = Field(default_factory=list)
    topics_any: list[str] = Field(default_factory=list)
    roles_any: list[str] = Field(default_factory=list)
    count_at_least: int = Field(default=1, ge=1, description="matching events so far")


class TrackRule(BaseModel):
    """Ordered rule choosing or moving the lead's track; first match wins."""

    model_config = ConfigDict(extra="forbid")

    id: str
    when: When
    track: str
    next_asset: str | None = Field(default=None, description="send this asset next")
    touch_within: timedelta | None = Field(default=None, description="and no later than this")


class Silence(BaseModel):
    """Sends without any engagement before the lead moves to the slower track."""

    model_config = ConfigDict(extra="forbid")

    after_sends: int = Field(ge=1)
    track: str


class Tracks(BaseModel):
    model_config = ConfigDict(extra="forbid")

    default: str
    definitions: dict[str, Track]
    rules: list[TrackRule] = Field(default_factory=list)
    silence: Silence | None = None


class StopRule(BaseModel):
    """Events that stop promotional sends (or lift earlier stops), optionally moving the stage."""

    model_config = ConfigDict(extra="forbid")

    id: str
    events: list[EventType]
    reason: str
    stops: bool = True
    stage: Stage | None = None
    clears: list[str] = Field(default_factory=list, description="stop rule ids this event lifts")


class LongLife(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_history_events: int = Field(default=1_500, ge=100, le=4_000)
    recent_event_ids: int = Field(default=500, ge=10)
