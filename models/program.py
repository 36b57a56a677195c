"""The program file: a versioned, validated YAML description of one nurture program."""

from __future__ import annotations

import hashlib
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from models.assets import Asset, ContentMap
from models.compliance_rules import ComplianceHolds, ConsentRules, SafetyContacts
from models.nurture import Cadence, LongLife, Sender, StopRule, Tracks
from models.reference import ReferenceData
from models.routing import Routing
from models.scoring_weights import Scoring
from models.screening import Screening
from models.segment_mapping import SegmentMapping


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
