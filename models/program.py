"""The program file: a versioned, validated YAML description of one nurture program."""

from __future__ import annotations

from datetime import date, timedelta
from enum import StrEnum
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator


class AssetStatus(StrEnum):
    DRAFT = "draft"
    IN_REVIEW = "in_review"
    APPROVED = "approved"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"
    SUPERSEDED = "superseded"


class Asset(BaseModel):
    """An approved piece of content with its MLR metadata (DOMAIN 7)."""

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
    """Who the emails come from (DOMAIN 14: sender identity and postal address)."""

    model_config = ConfigDict(extra="forbid")

    name: str
    address: str
    postal_address: str


class Cadence(BaseModel):
    model_config = ConfigDict(extra="forbid")

    first_touch_delay: timedelta = Field(description="ISO 8601, e.g. PT2S or P1D")


class ContentMap(BaseModel):
    model_config = ConfigDict(extra="forbid")

    first_touch: str = Field(description="asset id sent as the first follow-up")


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
    assets: list[Asset] = Field(min_length=1)

    @model_validator(mode="after")
    def _content_map_names_assets(self) -> Program:
        ids = {asset.id for asset in self.assets}
        if len(ids) != len(self.assets):
            raise ValueError("asset ids must be unique")
        if self.content.first_touch not in ids:
            raise ValueError(f"content.first_touch names unknown asset {self.content.first_touch}")
        return self

    def asset(self, asset_id: str) -> Asset | None:
        return next((a for a in self.assets if a.id == asset_id), None)


class ProgramError(ValueError):
    """A program file that cannot be used, with its path and the fields at fault."""


def load_program(path: Path) -> Program:
    """Read and validate a program file.

    Raises:
        ProgramError: naming the path and every bad field.
    """
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise ProgramError(f"{path}: cannot read program file ({err.strerror})") from err
    except yaml.YAMLError as err:
        raise ProgramError(f"{path}: not valid YAML: {err}") from err
    try:
        return Program.model_validate(raw)
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(top level)'}: {e['msg']}"
            for e in err.errors()
        )
        raise ProgramError(f"{path}: invalid program: {problems}") from err
