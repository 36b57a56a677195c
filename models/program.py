"""The program file: a versioned, validated YAML description of one nurture program."""

from __future__ import annotations

import hashlib
from datetime import date, time, timedelta
from enum import StrEnum
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from models.events import EventType
from models.lead_state import Stage
from models.reference import ReferenceData
from models.routing import Routing
from models.screening import Screening
from models.segment_mapping import SegmentMapping


class AssetStatus(StrEnum):
    DRAFT = "draft"
    IN_REVIEW = "in_review"
    APPROVED = "approved"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"
    SUPERSEDED = "superseded"


class Asset(BaseModel):
    """An approved piece of content with its MLR metadata."""

    model_config = ConfigDict(extra="forbid")

    id: str
    title: str
    version: str
    approval_id: str
    approval_date: date
    expires_on: date
    status: AssetStatus
    countries: list[str] = Field(min_length=1)
    audience: list[str] = Field(min_length=1)
    channel: str = "email"
    product: str
    indication: str
    language: str = "en"
    funnel_stage: str
    topics: list[str] = Field(default_factory=list)
    promotional: bool = True
    subject: str
    body: str
    isi: str | None = Field(default=None, description="fair-balance / important safety information")

    @model_validator(mode="after")
    def _promotional_needs_isi(self) -> Asset:
        if self.promotional and not (self.isi and self.isi.strip()):
            raise ValueError(f"asset {self.id}: promotional content needs its isi block")
        return self

    def sendable_on(self, day: date) -> str | None:
        """Why this asset may not be sent on `day`, or None when it may."""
        if self.status is not AssetStatus.APPROVED:
            return f"asset status is {self.status.value}"
        if day > self.expires_on:
            return f"asset expired on {self.expires_on.isoformat()}"
        return None


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


class PointsFor(BaseModel):
    model_config = ConfigDict(extra="forbid")

    topics: list[str]
    points: int


class Territory(BaseModel):
    model_config = ConfigDict(extra="forbid")

    countries: list[str]
    points: int


class FitWeights(BaseModel):
    """Fit: who the lead is. Values are points per matching fact."""

    model_config = ConfigDict(extra="forbid")

    role: dict[str, int] = Field(default_factory=dict)
    specialty: dict[str, int] = Field(default_factory=dict)
    org_type: dict[str, int] = Field(default_factory=dict)
    therapy_area_interest: PointsFor | None = None
    territory: Territory | None = None


class Disqualifiers(BaseModel):
    """Facts that block MQL whatever the scores (consumers, students, competitors, territory)."""

    model_config = ConfigDict(extra="forbid")

    roles: list[str] = Field(default_factory=list)
    org_types: list[str] = Field(default_factory=list)
    out_of_territory: bool = True


class Thresholds(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fit: int
    engagement: int


class Scoring(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fit: FitWeights
    engagement: dict[EventType, int] = Field(description="event type -> points")
    topic_bonus: dict[str, int] = Field(default_factory=dict, description="topic -> extra points")
    half_life: timedelta
    thresholds: Thresholds
    disqualifiers: Disqualifiers = Field(default_factory=Disqualifiers)


class StopRule(BaseModel):
    """Events that stop promotional sends (or lift earlier stops), optionally moving the stage."""

    model_config = ConfigDict(extra="forbid")

    id: str
    events: list[EventType]
    reason: str
    stops: bool = True
    stage: Stage | None = None
    clears: list[str] = Field(default_factory=list, description="stop rule ids this event lifts")


class ConsentRules(BaseModel):
    """Where explicit consent is needed before promotional email, where double opt-in
    applies and when implied consent expires."""

    model_config = ConfigDict(extra="forbid")

    opt_in_countries: list[str] = Field(
        default_factory=lambda: [
            "AT",
            "BE",
            "DE",
            "DK",
            "ES",
            "FI",
            "FR",
            "IE",
            "IT",
            "NL",
            "PL",
            "SE",
        ],
        description="no promotional email without an explicit grant",
    )
    double_opt_in_countries: list[str] = Field(
        default_factory=lambda: ["DE"], description="a grant stays pending until confirmed"
    )
    implied_consent_expiry: dict[str, timedelta] = Field(
        default_factory=lambda: {"CA": timedelta(days=183)},
        description="country -> how long implied consent (e.g. after an inquiry) lasts",
    )


class ComplianceHolds(BaseModel):
    """What puts a lead on compliance hold for a reviewer's decision."""

    model_config = ConfigDict(extra="forbid")

    review_within: timedelta = Field(
        default=timedelta(days=2), description="a review not decided in time escalates"
    )
    off_label: bool = True
    partner_data_without_consent: bool = True
    unverified_promotional_request: bool = True
    missing_consent_basis: bool = Field(
        default=True,
        description="a lead in an opt-in country asks for promotion before any consent",
    )


class SafetyContacts(BaseModel):
    """Where screened reports go: drug safety, and medical information (never sales)."""

    model_config = ConfigDict(extra="forbid")

    drug_safety_mailbox: str
    escalation_mailbox: str
    medical_information_mailbox: str


class LongLife(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_history_events: int = Field(default=1_500, ge=100, le=4_000)
    recent_event_ids: int = Field(default=500, ge=10)


class ContentMap(BaseModel):
    model_config = ConfigDict(extra="forbid")

    first_touch: str = Field(description="asset id sent first when no track rule names one")


class Program(BaseModel):
    """One nurture program, as loaded from its YAML file."""

    model_config = ConfigDict(extra="forbid")

    name: str
    version: str
    product: str
    therapy_area: str
    sender: Sender
    cadence: Cadence
    content: ContentMap
    tracks: Tracks
    scoring: Scoring
    stop_rules: list[StopRule] = Field(default_factory=list)
    consent: ConsentRules = Field(default_factory=ConsentRules)
    reference: ReferenceData = Field(default_factory=ReferenceData)
    screening: Screening | None = Field(
        default=None, description="free-text screening; without it nothing is screened"
    )
    safety_contacts: SafetyContacts | None = None
    compliance: ComplianceHolds = Field(default_factory=ComplianceHolds)
    long_life: LongLife = Field(default_factory=LongLife)
    routing: Routing | None = Field(
        default=None, description="queues and ordered rules; without it nothing is routed"
    )
    segment: SegmentMapping = Field(default_factory=SegmentMapping)
    assets: list[Asset] = Field(min_length=1)

    @model_validator(mode="after")
    def _references_resolve(self) -> Program:
        ids = {asset.id for asset in self.assets}
        if len(ids) != len(self.assets):
            raise ValueError("asset ids must be unique")
        named: list[tuple[str, str | None]] = [("content.first_touch", self.content.first_touch)]
        for name, track in self.tracks.definitions.items():
            named += [(f"tracks.definitions.{name}.assets", a) for a in track.assets]
        named += [(f"tracks.rules.{r.id}.next_asset", r.next_asset) for r in self.tracks.rules]
        for where, asset_id in named:
            if asset_id is not None and asset_id not in ids:
                raise ValueError(f"{where} names unknown asset {asset_id}")
        tracks = set(self.tracks.definitions)
        used = [("tracks.default", self.tracks.default)]
        used += [(f"tracks.rules.{r.id}.track", r.track) for r in self.tracks.rules]
        if self.tracks.silence:
            used.append(("tracks.silence.track", self.tracks.silence.track))
        if self.routing:
            used += [
                (f"routing.recycle_tracks.{reason}", track)
                for reason, track in self.routing.recycle_tracks.items()
                if track is not None
            ]
            problems = self.routing.check_territories([t.id for t in self.reference.territories])
            if problems:
                raise ValueError("; ".join(problems))
        for where, track_name in used:
            if track_name not in tracks:
                raise ValueError(f"{where} names unknown track {track_name}")
        return self

    def asset(self, asset_id: str) -> Asset | None:
        return next((a for a in self.assets if a.id == asset_id), None)


class ProgramInForce(BaseModel):
    """The program (None when the caller already has this fingerprint), its fingerprint, and
    whether the server has Leadflow's search attributes registered."""

    program: Program | None
    fingerprint: str
    search_attributes: bool = True
    rejected: str | None = Field(
        default=None, description="why the current file was refused (the last good one is used)"
    )


class ProgramError(ValueError):
    """A program file that cannot be used, with its path and the fields at fault."""


def load_program(path: Path) -> Program:
    """Read and validate a program file; an unchanged file is not parsed again.

    Raises:
        ProgramError: naming the path and every bad field.
    """
    text = _read(path)
    key = (str(path.resolve()), program_fingerprint(text))
    program = _PARSED.get(key)
    if program is None:
        program = load_program_text(path, text)
        _PARSED.clear()  # keep only the newest good parse per process
        _PARSED[key] = program
    return program


# Activities re-read the program at every send; parsing (~25 ms) only when the file changes.
_PARSED: dict[tuple[str, str], Program] = {}


def program_fingerprint(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as err:
        raise ProgramError(f"{path}: cannot read program file ({err.strerror})") from err


def load_program_text(path: Path, text: str) -> Program:
    """Validate a program file's text (`path` names it in errors)."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ProgramError(f"{path}: not valid YAML{where}: {problem}") from err
    try:
        program = Program.model_validate(raw)
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(top level)'}: {e['msg']}"
            for e in err.errors()
        )
        raise ProgramError(f"{path}: invalid program: {problems}") from err
    calendar = program.screening.safety.calendar_problem() if program.screening else None
    if calendar:
        raise ProgramError(f"{path}: invalid program: screening.safety: {calendar}")
    return program
