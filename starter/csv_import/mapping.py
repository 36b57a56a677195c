"""The mapping of a CSV import: which column is which envelope field, from a file and flags,
and how one row becomes one lead event (its id derived from the event, so a re-import is a
duplicate)."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import structlog
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from models.events import EventType, LeadEventIn, LeadProfile
from starter.intake import validate_event as validate_envelope

log = structlog.get_logger(__name__)

LEAD_FIELDS = tuple(LeadProfile.model_fields)
LIST_SUFFIX = "[]"
PENDING_ID = "csv-pending"  # replaced by the content-derived id once the event is valid
DEFAULT_BATCH = 100
TARGET_HELP = (
    "use type, occurred_at, lead.<field> (" + ", ".join(LEAD_FIELDS) + ") or properties.<name>"
    " (properties.<name>[] for a list)"
)


class MappingError(ValueError):
    """A mapping that cannot be used, or a file it does not fit: nothing was imported."""


def _check_target(target: str, *, constant: bool = False) -> str:
    kind, _, name = target.partition(".")
    if not constant and target in ("type", "occurred_at"):
        return target
    if kind == "lead" and name in LEAD_FIELDS:
        return target
    base = name.removesuffix(LIST_SUFFIX)
    if kind == "properties" and base and "." not in base and "[" not in base:
        return target
    raise ValueError(f"unknown target {target!r}; {TARGET_HELP}")


class CsvMapping(BaseModel):
    """How a file's columns become events.

    `columns` maps a column name to a target: `type`, `occurred_at`, `lead.<field>` or
    `properties.<name>` (`properties.<name>[]` splits the cell on `list_separator`).
    `constants` gives a target the same value on every row (where a column also maps to it,
    the constant fills the rows whose cell is empty).
    """

    model_config = ConfigDict(extra="forbid")

    type: EventType | None = Field(
        default=None, description="the type of every row's event, unless a column maps to type"
    )
    columns: dict[str, str] = Field(default_factory=dict)
    constants: dict[str, str] = Field(default_factory=dict)
    timezone: str | None = Field(default=None, description="IANA zone for times without offset")
    list_separator: str = Field(default=";", min_length=1)
    delimiter: str = Field(default=",", min_length=1, max_length=1)

    @field_validator("columns")
    @classmethod
    def _known_targets(cls, columns: dict[str, str]) -> dict[str, str]:
        seen: dict[str, str] = {}
        for column, target in columns.items():
            try:
                _check_target(target)
            except ValueError as err:
                raise ValueError(f"column {column!r}: {err}") from None
            base = target.removesuffix(LIST_SUFFIX)
            if base in seen:
                raise ValueError(f"columns {seen[base]!r} and {column!r} both map to {base}")
            seen[base] = column
        return columns

    @field_validator("constants")
    @classmethod
    def _known_constant_targets(cls, constants: dict[str, str]) -> dict[str, str]:
        for target in constants:
            _check_target(target, constant=True)
        return constants

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, zone: str | None) -> str | None:
        if zone is not None:
            try:
                ZoneInfo(zone)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown time zone {zone!r} (an IANA name, e.g. UTC)") from None
        return zone

    def column_for(self, target: str) -> str | None:
        """The column mapped to `target` (or to the field a problem names), if any."""
        for column, mapped in self.columns.items():
            base = mapped.removesuffix(LIST_SUFFIX)
            if target == base or target.startswith(base + "."):
                return column
        return None


def _complete(mapping: CsvMapping) -> CsvMapping:
    """Check what the mapping needs as a whole: a type and an occurrence time."""
    targets = list(mapping.columns.values())
    if "occurred_at" not in targets:
        raise MappingError(
            "occurred_at: no column maps to occurred_at (e.g. --column When=occurred_at)"
        )
    if mapping.type is None and "type" not in targets:
        raise MappingError("type: give the event type (--type or type:) or map a column to type")
    if mapping.type is not None and "type" in targets:
        raise MappingError(
            f"type: fixed as {mapping.type.value} and also mapped from column"
            f" {mapping.column_for('type')!r}; keep one"
        )
    return mapping


def _pairs(items: list[str], flag: str, example: str, *, split_last: bool) -> dict[str, str]:
    pairs = {}
    for item in items:
        left, sep, right = item.rpartition("=") if split_last else item.partition("=")
        if not sep or not left.strip() or not right.strip():
            raise MappingError(f"{flag} {item!r}: write it as {example}")
        pairs[left.strip()] = right.strip()
    return pairs


def build_mapping(
    mapping_file: Path | None = None,
    *,
    event_type: str | None = None,
    columns: list[str] | None = None,
    constants: list[str] | None = None,
    delimiter: str | None = None,
) -> CsvMapping:
    """The mapping of a YAML/JSON file, with flags added on top (a flag wins over the file).

    Raises:
        MappingError: naming the bad key or flag.
    """
    raw: dict[str, Any] = {}
    if mapping_file is not None:
        raw = _read_mapping_file(mapping_file)
    raw["columns"] = {
        **(raw.get("columns") or {}),
        **_pairs(
            columns or [], "--column", "COLUMN=TARGET, e.g. Email=lead.email", split_last=True
        ),
    }
    raw["constants"] = {
        **(raw.get("constants") or {}),
        **_pairs(constants or [], "--set", "TARGET=VALUE, e.g. lead.country=US", split_last=False),
    }
    if event_type is not None:
        raw["type"] = event_type
    if delimiter is not None:
        raw["delimiter"] = delimiter
    try:
        mapping = CsvMapping.model_validate(raw)
    except ValidationError as err:
        where = f"{mapping_file}: " if mapping_file else ""
        raise MappingError(where + _describe(err)) from None
    return _complete(mapping)


def _read_mapping_file(path: Path) -> dict[str, Any]:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))  # JSON is YAML too
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        raise MappingError(f"{path}: cannot read the mapping: {err}") from None
    if not isinstance(raw, dict):
        raise MappingError(f"{path}: a mapping file holds keys such as type, columns, constants")
    for key in ("columns", "constants"):
        if raw.get(key) is not None and not isinstance(raw[key], dict):
            raise MappingError(f"{path}: {key}: expected NAME: TARGET pairs, not a list or text")
    return raw


def _describe(err: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc'][:1]) or 'mapping'}: {e['msg']}" for e in err.errors()
    )


def event_id_for(event: LeadEventIn) -> str:
    """`csv-` + sha256 of the normalised event: the same row imported again, from this file or
    a re-export with other column names, gets the same id."""
    content = event.model_dump(mode="json", exclude={"event_id"})
    content["occurred_at"] = event.occurred_at.astimezone(UTC).isoformat()
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "csv-" + hashlib.sha256(canonical.encode()).hexdigest()


def _put(envelope: dict[str, Any], target: str, value: str, separator: str) -> None:
    if target in ("type", "occurred_at"):
        envelope[target] = value
        return
    kind, _, name = target.partition(".")
    if name.endswith(LIST_SUFFIX):
        items = [item.strip() for item in value.split(separator)]
        envelope[kind][name.removesuffix(LIST_SUFFIX)] = [item for item in items if item]
    else:
        envelope[kind][name] = value


def _with_zone(value: str, zone: str | None) -> str:
    """A time without an offset read in the mapping's zone; anything else left to validation."""
    if zone is None:
        return value
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return value
    return parsed.replace(tzinfo=ZoneInfo(zone)).isoformat() if parsed.tzinfo is None else value


def row_event(mapping: CsvMapping, cells: dict[str, str]) -> LeadEventIn:
    """The event one row makes, validated exactly as `POST /v1/events` validates it.

    Raises:
        EventPayloadError: naming each bad field (`lead.npi`, `type`, ...).
    """
    envelope: dict[str, Any] = {"event_id": PENDING_ID, "lead": {}, "properties": {}}
    if mapping.type is not None:
        envelope["type"] = mapping.type.value
    for target, value in mapping.constants.items():
        _put(envelope, target, value, mapping.list_separator)
    for column, target in mapping.columns.items():
        value = (cells.get(column) or "").strip()
        if value:
            _put(envelope, target, value, mapping.list_separator)
    if "occurred_at" in envelope:
        envelope["occurred_at"] = _with_zone(envelope["occurred_at"], mapping.timezone)
    event = validate_envelope(envelope)
    return event.model_copy(update={"event_id": event_id_for(event)})
