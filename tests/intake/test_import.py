"""`leadflow import CSV`: rows become lead events through the intake service; bad rows are
named by row and field; a rerun (or a resumed run) imports nothing twice."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner

from models.lead_state import lead_workflow_id
from models.tables import Lead, ReceivedEvent
from starter.cli import app
from starter.csv_import import (
    MappingError,
    build_mapping,
    checkpoint_path,
    plan_import,
    read_rows,
    row_event,
    run_import,
)
from starter.intake import EventPayloadError, Intake
from starter.settings import Settings
from tests.helpers.factories import npi_for
from tests.helpers.polling import eventually
from workflows.lead import LeadWorkflow

ANA = "a.rivera@northside-cardio.example"
MEI = "m.chen@lakeview-health.example"
HEADER = "Email,NPI,Country,Activity,When,Asset,Topics,Campaign"
ROWS = [
    f"{ANA},{npi_for(ANA)},US,content_downloaded,2026-11-23T09:30:00Z,CVT-EVD-200,evidence",  # 2
    "s.okoye@riverside-clinic.example,12345,US,content_downloaded,2026-11-23T10:00:00Z,,",  # 3
    ",,US,page_viewed,2026-11-23T10:05:00Z,,",  # 4: nobody to identify
    f"{MEI},{npi_for(MEI)},US,brochure_downloaded,2026-11-23T10:10:00Z,,",  # 5: unknown type
    f"{MEI},{npi_for(MEI)},US,webinar_attended,2026-11-23T11:00:00Z,,endpoints;dosing",  # 6
    # 7: row 2 again, spelt differently
    f" {ANA.upper()} ,{npi_for(ANA)},US,content_downloaded,"
    "2026-11-23T09:30:00Z,CVT-EVD-200,evidence",
    f"{ANA},{npi_for(ANA)},US,page_viewed,2026-11-24T08:00:00Z,,dosing",  # 8
]
COLUMNS = [
    "Email=lead.email",
    "NPI=lead.npi",
    "Country=lead.country",
    "Activity=type",
    "When=occurred_at",
    "Asset=properties.asset_id",
    "Topics=properties.topics[]",
]
COLUMN_FLAGS = [
    *(flag for column in COLUMNS for flag in ("--column", column)),
    *("--set", "properties.source=csv_import"),
]
MAPPING_FILE = {
    "columns": {
        "Email": "lead.email",
        "NPI": "lead.npi",
        "Country": "lead.country",
        "Activity": "type",
        "When": "occurred_at",
        "Asset": "properties.asset_id",
        "Topics": "properties.topics[]",
    },
    "constants": {"properties.source": "csv_import"},
}


def write_csv(path: Path, rows: list[str]) -> Path:
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return path


def test_a_mapping_names_what_is_wrong_with_it(tmp_path: Path) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        (
            {"columns": ["When=occurred_at", "Email=lead.mail"]},
            "'Email': unknown target 'lead.mail'",
        ),
        ({"columns": ["Email=lead.email"]}, "occurred_at: no column maps to occurred_at"),
        ({"columns": ["When=occurred_at"], "event_type": None}, "type: give the event type"),
        ({"columns": ["When"]}, "--column 'When': write it as COLUMN=TARGET"),
        ({"columns": ["When=occurred_at"], "event_type": "brochure"}, "type: Input should be"),
        (
            {"columns": ["When=occurred_at", "Mail=lead.email", "Email=lead.email"]},
            "columns 'Mail' and 'Email' both map to lead.email",
        ),
    ]
    for flags, message in cases:
        with pytest.raises(MappingError, match=None) as raised:
            build_mapping(event_type=flags.get("event_type"), columns=flags["columns"])
        assert message in str(raised.value)
    mapping = build_mapping(
        event_type="page_viewed", columns=["When=occurred_at", "Mail=lead.email"]
    )
    with pytest.raises(MappingError) as missing:
        plan_import(write_csv(tmp_path / "leads.csv", ROWS), mapping)
    assert "mapped column(s) not in the header: Mail" in str(missing.value)
    listed = tmp_path / "listed.yaml"
    listed.write_text("type: page_viewed\ncolumns: [Email, When]\n")
    with pytest.raises(MappingError) as as_list:
        build_mapping(mapping_file=listed)
    assert "columns: expected NAME: TARGET pairs" in str(as_list.value)


def test_a_row_event_id_depends_on_the_event_not_on_spelling_or_column_names() -> None:
    mapping = build_mapping(
        event_type="content_downloaded",
        columns=["When=occurred_at", "Email=lead.email", "Asset=properties.asset_id"],
        delimiter=";",
    )
    renamed = build_mapping(
        event_type="content_downloaded",
        columns=["Time=occurred_at", "E-mail=lead.email", "Item=properties.asset_id"],
    )
    row = {"When": "2026-11-23T09:30:00Z", "Email": ANA, "Asset": "CVT-EVD-200"}
    same = {
        "Time": "2026-11-23T10:30:00+01:00",
        "E-mail": f"  {ANA.upper()}",
        "Item": "CVT-EVD-200",
    }
    first = row_event(mapping, row)
    assert first.event_id.startswith("csv-")
    assert row_event(renamed, same).event_id == first.event_id
    other = row_event(mapping, {**row, "Asset": "CVT-MOA-100"})
    assert other.event_id != first.event_id


def _counts(db: Engine) -> tuple[int, int]:
    with Session(db) as session:
        return len(session.exec(select(Lead)).all()), len(session.exec(select(ReceivedEvent)).all())


@pytest.mark.devserver
@pytest.mark.program(first_touch_delay="P1D")
@pytest.mark.usefixtures("worker")
async def test_import_twice_rejects_bad_rows_and_adds_nothing_the_second_time(
    env: WorkflowEnvironment, cli_settings: Settings, sqlite_db: Engine, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "leads.csv", ROWS)
    runner = CliRunner()
    first = await asyncio.to_thread(
        runner.invoke, app, ["import", str(path), *COLUMN_FLAGS, "--batch-size", "3"]
    )
    assert first.exit_code == 0, first.output
    lines = first.output.splitlines()
    assert "rejected row 3: lead.npi (column NPI): String should match pattern" in first.output
    assert any(
        line.startswith("rejected row 4: lead: Value error, needs at least") for line in lines
    )
    assert "rejected row 5: type (column Activity): Input should be" in first.output
    assert "columns not mapped (ignored): Campaign" in first.output
    assert ANA not in first.output and "riverside" not in first.output  # no personal data
    assert "│ 7    │ 3        │ 1         │ 3        │" in first.output.replace("┃", "│")

    leads, received = _counts(sqlite_db)
    assert (leads, received) == (2, 3)
    with Session(sqlite_db) as session:
        ids = {r.event_id: r.lead_id for r in session.exec(select(ReceivedEvent))}
    for lead_id in set(ids.values()):
        handle = env.client.get_workflow_handle_for(LeadWorkflow.run, lead_workflow_id(lead_id))
        expected = sum(1 for owner in ids.values() if owner == lead_id)

        async def recorded(handle: Any = handle, expected: int = expected) -> bool:
            log = await handle.query(LeadWorkflow.decisions)
            return [d.rule_id for d in log.decisions].count("event.recorded") == expected

        assert await eventually(recorded)

    mapping = tmp_path / "mapping.json"
    mapping.write_text(json.dumps(MAPPING_FILE))
    second = await asyncio.to_thread(
        runner.invoke, app, ["import", str(path), "--mapping", str(mapping), "--json"]
    )
    assert second.exit_code == 0, second.output
    summary = json.loads(second.stdout)
    assert {k: summary[k] for k in ("rows", "accepted", "duplicate", "rejected")} == {
        "rows": 7,
        "accepted": 0,
        "duplicate": 4,
        "rejected": 3,
    }
    assert [(r["row"], r["field"]) for r in summary["rejects"]] == [
        (3, "lead.npi"),
        (4, "lead"),
        (5, "type"),
    ]
    assert _counts(sqlite_db) == (2, 3)
    assert not list((cli_settings.data_dir / "imports").glob("*.json"))  # done: no checkpoint


@pytest.mark.devserver
@pytest.mark.program(first_touch_delay="P1D")
async def test_a_bad_mapping_or_file_exits_2_and_imports_nothing(
    cli_settings: Settings, sqlite_db: Engine, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "leads.csv", ROWS)
    runner = CliRunner()
    no_type = runner.invoke(app, ["import", str(path), "--column", "When=occurred_at"])
    assert no_type.exit_code == 2 and "type: give the event type" in no_type.output
    missing = runner.invoke(app, ["import", str(tmp_path / "nope.csv"), *COLUMN_FLAGS])
    assert missing.exit_code == 2 and "cannot read the file" in missing.output
    assert _counts(sqlite_db) == (0, 0)


class Interrupted(Exception):
    pass


@pytest.mark.devserver
async def test_an_interrupted_import_resumes_after_the_last_committed_batch(
    dev_client: Client, settings: Settings, sqlite_db: Engine, tmp_path: Path
) -> None:
    emails = [f"hcp{n}@clinic.example" for n in range(5)]
    rows = [
        f"{e},{npi_for(e)},US,page_viewed,2026-11-23T09:0{n}:00Z,," for n, e in enumerate(emails)
    ]
    path = write_csv(tmp_path / "five.csv", rows)
    plan = plan_import(path, build_mapping(columns=COLUMNS))
    checkpoint = checkpoint_path(settings.data_dir, plan)
    intake = Intake(dev_client, sqlite_db, settings.task_queue)

    def stop_after_first_batch(rows: int) -> None:
        raise Interrupted

    with pytest.raises(Interrupted):
        await run_import(
            intake,
            plan,
            batch_size=2,
            checkpoint=checkpoint,
            on_rows=stop_after_first_batch,
        )
    assert checkpoint.exists() and _counts(sqlite_db) == (2, 2)

    resumed = await run_import(intake, plan, batch_size=2, checkpoint=checkpoint)
    assert resumed.resumed_after_row == 3
    assert (resumed.rows, resumed.accepted, resumed.duplicate) == (5, 5, 0)
    assert not checkpoint.exists()

    again = await run_import(intake, plan, checkpoint=checkpoint)
    assert (again.accepted, again.duplicate, again.resumed_after_row) == (0, 5, None)
    assert _counts(sqlite_db) == (5, 5)


def test_the_example_mapping_fits_the_example_file() -> None:
    examples = Path(__file__).resolve().parents[2] / "examples"
    plan = plan_import(
        examples / "downloads.csv", build_mapping(examples / "downloads-mapping.yaml")
    )
    outcomes = []
    for _, cells in read_rows(plan):
        try:
            outcomes.append(
                row_event(plan.mapping, dict(zip(plan.header, cells, strict=True))).type
            )
        except EventPayloadError as err:
            outcomes.append(err.problems[0]["field"])
    assert outcomes == ["content_downloaded", "content_downloaded", "lead.npi", "lead"]
    assert plan.unmapped == ["Campaign"]
