"""CRM task actions: the one service the API and the CLI call to accept, reject or close."""

from __future__ import annotations

import asyncio

from sqlalchemy.engine import Engine
from sqlmodel import Session
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode

from models.lead_state import lead_workflow_id
from models.routing import TaskAction, TaskActionResult
from models.tables import CrmTask
from workflows.lead import LeadWorkflow


class UnknownTask(LookupError):
    def __init__(self, task_id: str) -> None:
        super().__init__(f"no CRM task {task_id}")


class TaskNotOpen(ValueError):
    """The task was already accepted, rejected, closed or escalated."""


class WrongTeam(PermissionError):
    """The key's scopes do not cover this kind of task."""


# Medical-side work (never for sales) is for keys with compliance:act; the rest sales:act.
MEDICAL_SIDE = frozenset(
    {"drug_safety", "medical_information", "trial_intake", "licence_verification"}
)


def scope_for(kind: str) -> str:
    return "compliance:act" if kind in MEDICAL_SIDE else "sales:act"


def _task(db: Engine, task_id: str) -> CrmTask | None:
    with Session(db) as session:
        return session.get(CrmTask, task_id)


async def act_on_task(
    client: Client, db: Engine, action: TaskAction, scopes: frozenset[str] | None = None
) -> TaskActionResult:
    """Deliver the action to the lead's workflow (an update: the answer says what it did).

    Raises:
        UnknownTask: no such task.
        TaskNotOpen: the task is no longer open in the lead's workflow.
        WrongTeam: `scopes` (an API key's; None for the CLI) do not cover the task's kind.
    """
    task = await asyncio.to_thread(_task, db, action.task_id)
    if task is None:
        raise UnknownTask(action.task_id)
    needed = scope_for(task.kind)
    if scopes is not None and needed not in scopes:
        raise WrongTeam(f"a {task.kind} task needs the '{needed}' scope")
    handle = client.get_workflow_handle_for(LeadWorkflow.run, lead_workflow_id(task.lead_id))
    try:
        return await handle.execute_update(LeadWorkflow.act_on_task, action)  # type: ignore[no-any-return]
    except RPCError as err:
        if err.status is RPCStatusCode.NOT_FOUND:
            raise UnknownTask(f"{action.task_id} (its lead's workflow has ended)") from err
        raise
    except WorkflowUpdateFailedError as err:
        why = getattr(err.cause, "message", None) or f"task {action.task_id} is {task.status}"
        raise TaskNotOpen(why) from err
