"""`GET /v1/outbox`: the emails Leadflow sent."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from models.queries import list_outbox
from models.tables import OutboxMessagePublic
from starter.api.deps import DbDep, require

router = APIRouter(prefix="/v1/outbox", tags=["ops"])


@router.get(
    "",
    dependencies=[require("leads:read")],
    response_model=list[OutboxMessagePublic],
)
def outbox(
    db: DbDep, lead_id: Annotated[str | None, Query(max_length=40)] = None
) -> list[OutboxMessagePublic]:
    """Messages sent, newest first, with asset id and version."""
    return [OutboxMessagePublic.model_validate(m) for m in list_outbox(db, lead_id)]
