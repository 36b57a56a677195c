"""`leadflow import`: a CSV file as lead events, checkpointed so a rerun resumes."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from starter.cli.output import JsonOption, console, err_console, fail, quiet_logs
from starter.settings import Settings

app = typer.Typer()


@app.command("import")
def import_csv(
    file: Annotated[Path, typer.Argument(help="CSV file (UTF-8); its first row names the columns")],
    mapping: Annotated[
        Path | None, typer.Option("--mapping", "-m", help="YAML or JSON mapping file")
    ] = None,
    event_type: Annotated[
        str | None, typer.Option("--type", help="the event type of every row")
    ] = None,
    column: Annotated[
        list[str] | None,
        typer.Option(help="COLUMN=TARGET, e.g. Email=lead.email, When=occurred_at (repeatable)"),
    ] = None,
    constant: Annotated[
        list[str] | None,
        typer.Option("--set", help="TARGET=VALUE for every row, e.g. lead.country=US"),
    ] = None,
    delimiter: Annotated[str | None, typer.Option(help="cell separator (default ,)")] = None,
    batch_size: Annotated[
        int, typer.Option(min=1, max=500, help="rows per checkpointed batch")
    ] = 100,
    restart: Annotated[
        bool, typer.Option("--restart", help="ignore an interrupted run's checkpoint")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Import a CSV file as lead events: each row is checked like an API event and delivered
    to its lead. Running it again imports nothing twice (those rows answer `duplicate`).

    Exit code 0 when every row was processed, rejected rows included (they are listed);
    1 when the run stopped (run it again to resume); 2 for a bad mapping or file.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn
    from rich.table import Table

    from starter.cli.connections import open_intake
    from starter.csv_import import (
        ImportSummary,
        MappingError,
        build_mapping,
        checkpoint_path,
        plan_import,
        run_import,
    )

    quiet_logs()
    try:
        plan = plan_import(
            file,
            build_mapping(
                mapping,
                event_type=event_type,
                columns=column,
                constants=constant,
                delimiter=delimiter,
            ),
        )
    except MappingError as err:
        fail(str(err), 2, soft_wrap=True)
    settings = Settings()
    checkpoint = checkpoint_path(settings.data_dir, plan)
    if restart:
        checkpoint.unlink(missing_ok=True)
    progress = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err_console,
        disable=as_json or not err_console.is_terminal,
    )

    async def run() -> ImportSummary:
        intake = await open_intake(settings)
        with progress:
            task = progress.add_task(f"importing {file.name}", total=plan.records)
            return await run_import(
                intake,
                plan,
                batch_size=batch_size,
                checkpoint=checkpoint,
                on_rows=lambda rows: progress.advance(task, rows),
            )

    try:
        summary = asyncio.run(run())
    except KeyboardInterrupt:
        fail("import interrupted; run the same command to resume", 130)
    except Exception as err:  # a fatal stop: the checkpoint lets a rerun resume
        fail(
            f"import stopped: {type(err).__name__}: {err}; run the same command again to resume",
            1,
            soft_wrap=True,
        )
    if as_json:
        print(summary.model_dump_json(indent=2))
        return
    for reject in summary.rejects:
        console.print(f"[red]rejected[/red] {reject.line()}", highlight=False, soft_wrap=True)
    if summary.ignored_columns:
        console.print(f"columns not mapped (ignored): {', '.join(summary.ignored_columns)}")
    if summary.resumed_after_row:
        console.print(f"resumed after row {summary.resumed_after_row} (an interrupted run)")
    table = Table("rows", "accepted", "duplicate", "rejected", title=f"import {file.name}")
    table.add_row(
        str(summary.rows),
        str(summary.accepted),
        str(summary.duplicate),
        f"[red]{summary.rejected}[/red]" if summary.rejected else "0",
    )
    console.print(table)
