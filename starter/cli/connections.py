"""What the commands run against: the database and the lead workflows on Temporal."""

from __future__ import annotations

from typing import Any

from starter.settings import Settings


def open_database():  # type: ignore[no-untyped-def]
    from models.db import connect_db, migrate

    db = connect_db(Settings().resolved_database_url)
    migrate(db)
    return db


async def lead_handle(lead_id: str) -> Any:
    """The lead's workflow handle on the configured Temporal server."""
    from models.lead_state import lead_workflow_id
    from starter.temporal import connect
    from workflows.lead import LeadWorkflow

    client = await connect(Settings())
    return client.get_workflow_handle_for(LeadWorkflow.run, lead_workflow_id(lead_id))
