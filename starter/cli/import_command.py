"""`leadflow import`: a CSV file as lead events, checkpointed so a rerun resumes."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from starter.cli.connections import load_settings
from starter.cli.output import JsonOption, console, err_console, fail, quiet_logs

if TYPE_CHECKING:
    from starter.csv_import import CsvPlan, ImportSummary
    from starter.settings import Settings

app = typer.Typer()

CsvFile = Annotated[Path, typer.Argument(help="CSV file (UTF-8); its first row names the columns")]
MappingFile = Annotated[
    Path | None, typer.Option("--mapping", "-m", help="YAML or JSON mapping file")
]
EventType = Annotated[str | None, typer.Option("--type", help="the event type of every row")]
Columns = Annotated[
    list[str] | None,
    typer.Option(help="COLUMN=TARGET, e.g. Email=lead.email, When=occurred_at (repeatable)"),
]
Constants = Annotated[
    list[str] | None,
    typer.Option("--set", help="TARGET=VALUE for every row, e.g. lead.country=US"),
]
Delimiter = Annotated[str | None, typer.Option(help="cell separator (default ,)")]
BatchSize = Annotated[int, typer.Option(min=1, max=500, help="rows per checkpointed batch")]
Restart = Annotated[bool, typer.Option("--restart", help="ignore an interrupted run's checkpoint")]


@app.command("import")
def import_csv(
    file: CsvFile,
    mapping: MappingFile = None,
    event_type: EventType = None,
    column: Columns = None,
    constant: Constants = None,
    delimiter: Delimiter = None,
    batch_size: BatchSize = 100,
    restart: Restart = False,
    as_json: JsonOption = False,
) -> None:
    """Import a CSV file as lead events: each row is checked like an API event and delivered
    to its lead. Running it again imports nothing twice (those rows answer `duplicate`).

    Exit code 0 when every row was processed, rejected rows included (they are listed);
    1 when the run stopped (run it again to resume); 2 for a bad mapping or file.
    """
    quiet_logs()
    plan = _plan(file, mapping, event_type, column, constant, delimiter)
    settings = load_settings()
    summary = _run(settings, plan, batch_size=batch_size, restart=restart, as_json=as_json)
    if as_json:
        print(summary.model_dump_json(indent=2))
    else:
        _print_summary(summary, file.name)


def _plan(
    file: Path,
    mapping: Path | None,
    event_type: str | None,
    columns: list[str] | None,
    constants: list[str] | None,
    delimiter: str | None,
) -> CsvPlan:
    """The checked mapping applied to the file's header; a bad mapping or file exits 2."""
    from starter.csv_import import MappingError, build_mapping, plan_import

    try:
        return plan_import(
            file,
            build_mapping(
                mapping,
                event_type=event_type,
                columns=columns,
                constants=constants,
                delimiter=delimiter,
            ),
        )
    except MappingError as err:
        fail(str(err), 2, soft_wrap=True)


def _run(
    settings: Settings, plan: CsvPlan, *, batch_size: int, restart: bool, as_json: bool
) -> ImportSummary:
    """Deliver the rows in checkpointed batches; a stop exits 1 (130 when interrupted)."""
    from starter.csv_import import checkpoint_path

    checkpoint = checkpoint_path(settings.data_dir, plan)
    if restart:
        checkpoint.unlink(missing_ok=True)
    try:
        return asyncio.run(_deliver(settings, plan, checkpoint, batch_size, as_json))
    except KeyboardInterrupt:
        fail("import interrupted; run the same command to resume", 130)
    except Exception as err:  # a fatal stop: the checkpoint lets a rerun resume
        fail(
            f"import stopped: {type(err).__name__}: {err}; run the same command again to resume",
            1,
            soft_wrap=True,
        )


async def _deliver(
    settings: Settings, plan: CsvPlan, checkpoint: Path, batch_size: int, as_json: bool
) -> ImportSummary:
    """The rows through the intake service, with a progress bar on an interactive stderr."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from starter.cli.connections import open_intake
    from starter.csv_import import run_import

    progress = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err_console,
        disable=as_json or not err_console.is_terminal,
    )
    intake = await open_intake(settings)
    with progress:
        task = progress.add_task(f"importing {plan.path.name}", total=plan.records)
        return await run_import(
            intake,
            plan,
            batch_size=batch_size,
            checkpoint=checkpoint,
            on_rows=lambda rows: progress.advance(task, rows),
        )


def _print_summary(summary: ImportSummary, file_name: str) -> None:
    """Rejected rows one a line, what was ignored or resumed, then the counts."""
    from rich.table import Table

    for reject in summary.rejects:
        console.print(f"[red]rejected[/red] {reject.line()}", highlight=False, soft_wrap=True)
    if summary.ignored_columns:
        console.print(f"columns not mapped (ignored): {', '.join(summary.ignored_columns)}")
    if summary.resumed_after_row:
        console.print(f"resumed after row {summary.resumed_after_row} (an interrupted run)")
    table = Table("rows", "accepted", "duplicate", "rejected", title=f"import {file_name}")
    table.add_row(
        str(summary.rows),
        str(summary.accepted),
        str(summary.duplicate),
        f"[red]{summary.rejected}[/red]" if summary.rejected else "0",
    )
    console.print(table)
