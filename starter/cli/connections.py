"""What the commands run against: the database, the Temporal server and a lead's workflow.

Heavy modules are imported inside the functions, so `leadflow --help` does not load them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from temporalio.client import Client, WorkflowHandle

    from models.lead_state import LeadWorkflowResult
    from starter.intake import Intake
    from starter.settings import Settings
    from workflows.lead import LeadWorkflow

    LeadHandle = WorkflowHandle[LeadWorkflow, LeadWorkflowResult]

T = TypeVar("T")


def load_settings() -> Settings:
    """The app's settings, read from the environment (`LEADFLOW_*`) when a command runs."""
    from starter.settings import Settings

    return Settings()


def open_database(settings: Settings) -> Engine:
    """The configured database, its schema brought to the newest revision."""
    from models.db import connect_db, migrate

    db = connect_db(settings.resolved_database_url)
    migrate(db)
    return db


def run_service(
    settings: Settings,
    call: Callable[[Client, Engine], Awaitable[T]],
    refusals: tuple[type[Exception], ...] = (),
) -> T:
    """Run a service function with a Temporal client and the database, as the API runs it.

    A refusal (one of `refusals`) ends the command with its message and exit code 1.
    """
    from starter.cli.output import fail
    from starter.temporal import connect

    async def run() -> T:
        return await call(await connect(settings), open_database(settings))

    try:
        return asyncio.run(run())
    except refusals as err:
        fail(str(err), 1)


async def open_intake(settings: Settings) -> Intake:
    """The intake service on the configured database, Temporal server and program."""
    from models.program import load_program
    from starter.intake import Intake, IntakeRules
    from starter.temporal import connect

    db = await asyncio.to_thread(open_database, settings)
    client = await connect(settings)
    rules = IntakeRules.of(load_program(settings.program))
    return Intake(client, db, settings.task_queue, rules)


def on_lead(settings: Settings, lead_id: str, use: Callable[[LeadHandle], Awaitable[T]]) -> T:
    """Run `use` with the lead's workflow handle on the configured Temporal server."""
    from models.lead_state import lead_workflow_id
    from starter.temporal import connect
    from workflows.lead import LeadWorkflow

    async def run() -> T:
        client = await connect(settings)
        handle = client.get_workflow_handle_for(LeadWorkflow.run, lead_workflow_id(lead_id))
        return await use(handle)

    return asyncio.run(run())
