"""`/v1/crm`: the embedded CRM's tasks, counted, and accepted, rejected or closed."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy.engine import Engine
from temporalio.client import Client

from models.queries import list_tasks, task_summary
from models.routing import TaskAction, TaskActionResult
from models.tables import CrmTaskPublic
from starter.api.deps import ActingKey, ClientDep, DbDep, require, status_filter
from starter.api.schemas import CloseBody, RejectBody, TaskNoteBody
from starter.auth import KeyHolder
from starter.task_actions import act_on_task

router = APIRouter(prefix="/v1/crm", tags=["sales"])


@router.get("/tasks", dependencies=[require("leads:read")])
def crm_tasks(
    db: DbDep,
    queue: Annotated[str | None, Query(max_length=80)] = None,
    status: Annotated[
        str | None, status_filter("open", "accepted", "rejected", "closed", "escalated")
    ] = None,
    lead_id: Annotated[str | None, Query(max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[CrmTaskPublic]:
    """CRM tasks in the embedded CRM, newest first, with the context each team needs."""
    tasks = list_tasks(db, queue=queue, status=status, lead_id=lead_id, limit=limit)
    return [CrmTaskPublic.model_validate(t) for t in tasks]


@router.get("/summary", dependencies=[require("leads:read")])
def crm_summary(db: DbDep) -> dict[str, Any]:
    """Tasks per queue and status, and the reject reasons given so far, counted."""
    return task_summary(db)


@router.post("/tasks/{task_id}/accept")
async def accept_task(
    task_id: str, client: ClientDep, db: DbDep, holder: ActingKey, body: TaskNoteBody | None = None
) -> TaskActionResult:
    """The queue takes the lead: sales_accepted for a sales task (the SLA is met)."""
    note = body.note if body else None
    return await _act(client, db, holder, task_id=task_id, action="accept", note=note)


@router.post("/tasks/{task_id}/reject")
async def reject_task(
    task_id: str, body: RejectBody, client: ClientDep, db: DbDep, holder: ActingKey
) -> TaskActionResult:
    """Send the lead back with a reason code: recycled to nurture on the reason's track."""
    return await _act(client, db, holder, task_id=task_id, action="reject", **body.model_dump())


@router.post("/tasks/{task_id}/close")
async def close_task(
    task_id: str, body: CloseBody, client: ClientDep, db: DbDep, holder: ActingKey
) -> TaskActionResult:
    """Close the task with its outcome (a sales task closes the lead)."""
    return await _act(client, db, holder, task_id=task_id, action="close", **body.model_dump())


async def _act(client: Client, db: Engine, holder: KeyHolder, **action: Any) -> TaskActionResult:
    """Deliver the action to the task's lead, in the name of the acting key, within its scopes."""
    request = TaskAction(actor=holder.name, **action)
    return await act_on_task(client, db, request, scopes=holder.scopes)
