"""CSV import (`leadflow import CSV`): each row becomes one lead event, checked like an API
event and delivered by the same intake service. Safe to run again: a row's event id is derived
from the event it makes, so intake answers a re-imported row `duplicate`."""

from __future__ import annotations

import csv
import hashlib
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import structlog
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from models.events import EventType, LeadEventIn, LeadProfile
from starter.identity import IdentityConflict
from starter.intake import EventPayloadError, Intake
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


class RowRejected(BaseModel):
    """One problem of a row that was not imported (no cell values: they may be personal data)."""

    row: int = Field(description="the row as a spreadsheet numbers it: the header is row 1")
    field: str
    column: str | None = None
    message: str

    def line(self) -> str:
        column = f" (column {self.column})" if self.column else ""
        return f"row {self.row}: {self.field}{column}: {self.message}"


class ImportSummary(BaseModel):
    """What an import did, row by row counted."""

    file: str
    rows: int = 0
    accepted: int = 0
    duplicate: int = 0
    rejected: int = 0
    rejects: list[RowRejected] = Field(default_factory=list)
    ignored_columns: list[str] = Field(default_factory=list, description="columns not mapped")
    resumed_after_row: int | None = Field(
        default=None, description="rows up to this one were imported by an interrupted run"
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


@dataclass(frozen=True)
class CsvPlan:
    """A file checked against its mapping, ready to import."""

    path: Path
    mapping: CsvMapping
    header: list[str]
    records: int
    fingerprint: str

    @property
    def unmapped(self) -> list[str]:
        return [name for name in self.header if name not in self.mapping.columns]


def plan_import(path: Path, mapping: CsvMapping) -> CsvPlan:
    """Read the header, check the mapping's columns are there, count the records.

    Raises:
        MappingError: the file cannot be read, or lacks a mapped column.
    """
    digest = hashlib.sha256(mapping.model_dump_json().encode())
    try:
        with path.open("rb") as raw:
            for chunk in iter(lambda: raw.read(1 << 20), b""):
                digest.update(chunk)
        rows = _records(path, mapping.delimiter)
        header = [name.strip() for name in next(rows, [])]
        records = sum(1 for _ in rows)
    except OSError as err:
        raise MappingError(f"{path}: cannot read the file: {err.strerror}") from None
    except UnicodeDecodeError:
        raise MappingError(f"{path}: not UTF-8 text (save it as 'CSV UTF-8')") from None
    except csv.Error as err:
        raise MappingError(f"{path}: not a readable CSV file: {err}") from None
    if not header:
        raise MappingError(f"{path}: empty file: the first row must name the columns")
    missing = [column for column in mapping.columns if column not in header]
    if missing:
        raise MappingError(
            f"{path}: mapped column(s) not in the header: {', '.join(missing)}"
            f" (the header has: {', '.join(header)})"
        )
    return CsvPlan(path, mapping, header, records, digest.hexdigest())


def _records(path: Path, delimiter: str) -> Iterator[list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as text:
        yield from csv.reader(text, delimiter=delimiter)


def read_rows(plan: CsvPlan) -> Iterator[tuple[int, list[str]]]:
    """The file's records after the header, with their spreadsheet row numbers."""
    rows = _records(plan.path, plan.mapping.delimiter)
    next(rows, None)
    yield from enumerate(rows, start=2)


class Checkpoint(BaseModel):
    """Where an interrupted import stopped: rows up to `last_row` were delivered."""

    fingerprint: str
    last_row: int
    summary: ImportSummary


def checkpoint_path(data_dir: Path, plan: CsvPlan) -> Path:
    """One checkpoint per file content and mapping, under the data dir."""
    return data_dir / "imports" / f"{plan.fingerprint[:32]}.progress.json"


def _load_checkpoint(path: Path, plan: CsvPlan) -> Checkpoint | None:
    try:
        checkpoint = Checkpoint.model_validate_json(path.read_bytes())
    except (OSError, ValidationError):
        return None
    return checkpoint if checkpoint.fingerprint == plan.fingerprint else None


def _save_checkpoint(path: Path, checkpoint: Checkpoint) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".tmp")
    partial.write_text(checkpoint.model_dump_json())
    os.replace(partial, path)


def _problems_of(row: int, mapping: CsvMapping, err: Exception) -> list[RowRejected]:
    if isinstance(err, EventPayloadError):
        problems = err.problems
    else:
        field, _, message = str(err).partition(": ")
        problems = (
            [{"field": field, "message": message}]
            if message
            else [{"field": "lead", "message": field}]
        )
    return [
        RowRejected(
            row=row, field=p["field"], column=mapping.column_for(p["field"]), message=p["message"]
        )
        for p in problems
    ]


async def run_import(
    intake: Intake,
    plan: CsvPlan,
    *,
    batch_size: int = DEFAULT_BATCH,
    checkpoint: Path | None = None,
    on_rows: Callable[[int], None] = lambda rows: None,
) -> ImportSummary:
    """Import the planned file in batches; after each batch the checkpoint (if any) records
    the last row done, so an interrupted run restarts after it. Removed when the file is done.
    """
    resumed = _load_checkpoint(checkpoint, plan) if checkpoint else None
    summary = resumed.summary if resumed else ImportSummary(file=str(plan.path))
    summary.ignored_columns = plan.unmapped
    skip = resumed.last_row if resumed else 0
    summary.resumed_after_row = skip or None
    log.info("csv import started", records=plan.records, resumed_after_row=skip or None)
    batch: list[tuple[int, list[str]]] = []
    for number, cells in read_rows(plan):
        if number <= skip:
            on_rows(1)
            continue
        batch.append((number, cells))
        if len(batch) >= batch_size:
            await _import_batch(intake, plan, batch, summary)
            _commit(checkpoint, plan, batch, summary, on_rows)
            batch = []
    if batch:
        await _import_batch(intake, plan, batch, summary)
        _commit(checkpoint, plan, batch, summary, on_rows)
    if checkpoint is not None:
        checkpoint.unlink(missing_ok=True)
    log.info(
        "csv import finished",
        rows=summary.rows,
        accepted=summary.accepted,
        duplicate=summary.duplicate,
        rejected=summary.rejected,
    )
    return summary


def _commit(
    checkpoint: Path | None,
    plan: CsvPlan,
    batch: list[tuple[int, list[str]]],
    summary: ImportSummary,
    on_rows: Callable[[int], None],
) -> None:
    if checkpoint is not None:
        last_row = batch[-1][0]
        _save_checkpoint(
            checkpoint, Checkpoint(fingerprint=plan.fingerprint, last_row=last_row, summary=summary)
        )
    on_rows(len(batch))


async def _import_batch(
    intake: Intake,
    plan: CsvPlan,
    batch: list[tuple[int, list[str]]],
    summary: ImportSummary,
) -> None:
    """Validate and deliver each row of a batch in order (one lead's rows stay in order)."""
    mapping = plan.mapping
    for number, cells in batch:
        if not any(cell.strip() for cell in cells):
            continue  # a blank line is not a row
        summary.rows += 1
        try:
            if len(cells) > len(plan.header):
                raise EventPayloadError(
                    [
                        {
                            "field": "row",
                            "message": f"{len(cells)} cells, the header has {len(plan.header)}",
                        }
                    ]
                )
            event = row_event(mapping, dict(zip(plan.header, cells, strict=False)))
            [result] = await intake.submit([event])
        except (EventPayloadError, IdentityConflict) as err:
            summary.rejected += 1
            summary.rejects.extend(_problems_of(number, mapping, err))
            continue
        if result.status == "duplicate":
            summary.duplicate += 1
        else:
            summary.accepted += 1
