"""Running an import: rows to events in batches, delivered by `Intake`, with a checkpoint after
each batch so an interrupted run resumes after the last finished batch."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import structlog
from pydantic import BaseModel, Field, ValidationError

from starter.csv_import.mapping import DEFAULT_BATCH, CsvMapping, row_event
from starter.csv_import.rows import CsvPlan, read_rows
from starter.identity import IdentityConflict
from starter.intake import EventPayloadError, Intake

log = structlog.get_logger(__name__)


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
