"""Service levels on the lead's CRM tasks: when the next one falls due, and where a task
past its SLA goes (its queue's escalation queue first, ops review after that)."""

from __future__ import annotations

from datetime import datetime

from models.lead_state import LeadState
from models.routing import OpenTask, QueueKind, RouteOrder
from workflows.lead_core import LeadCore

ESCALATION = "sla.escalation"


def next_due(state: LeadState) -> datetime | None:
    """The earliest SLA deadline among the open tasks (None: no task is due)."""
    due = [t.due_at for t in state.tasks if t.due_at is not None]
    return min(due) if due else None


def record_breaches(engine: LeadCore, now: datetime) -> list[tuple[OpenTask, RouteOrder]]:
    """Tasks past their SLA, each with where it goes: the queue's escalation queue first,
    ops review after that."""
    if engine.program.routing is None:
        return []
    found = []
    for task in engine.state.tasks:
        if task.due_at is not None and task.due_at <= now:
            order = _breached(engine, task, now)
            if order is not None:
                found.append((task, order))
    return found


def _breached(engine: LeadCore, task: OpenTask, now: datetime) -> RouteOrder | None:
    """Log the breach; where the task goes next (None: it is in ops review already)."""
    routing, due_at = engine.program.routing, task.due_at
    assert routing is not None and due_at is not None
    queue = routing.queue(task.queue)
    if task.escalations == 0 and queue is not None and queue.escalation_queue:
        target = queue.escalation_queue
    elif task.queue != routing.ops_review_queue:
        target = routing.ops_review_queue
    else:
        task.due_at = None
        engine.decide(now, "timer:sla", "sla.breached", f"task {task.task_id}")
        return None
    target_queue = routing.queue(target)
    engine.decide(
        now,
        "timer:sla",
        "sla.breached",
        f"task {task.task_id} in {task.queue}: escalated to {target}",
        {"due_at": due_at.isoformat(), "escalations": str(task.escalations + 1)},
    )
    return RouteOrder(
        rule_id=ESCALATION,
        rank=0,
        queue=target,
        kind=target_queue.kind if target_queue else QueueKind.OPS_REVIEW,
        reason=f"SLA breached in {task.queue}",
        trigger="timer:sla",
        request=task.request,
        handoff=task.handoff,  # still the same handoff, whoever's queue it is in now
    )
