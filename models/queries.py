"""Read-only queries the API and the CLI show: CRM tasks, compliance reviews, the outbox,
archived decisions."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from models.lead_state import Decision
from models.tables import ComplianceReview, CrmTask, CrmTaskPublic, DecisionLogEntry, OutboxMessage


def task_view(task: CrmTask) -> dict[str, Any]:
    """A task as the API, the CLI and the webhook show it."""
    return CrmTaskPublic.model_validate(task).model_dump(mode="json")


def list_tasks(
    db: Engine,
    *,
    queue: str | None = None,
    status: str | None = None,
    lead_id: str | None = None,
    limit: int = 200,
) -> list[CrmTask]:
    with Session(db) as session:
        query = select(CrmTask)
        if queue:
            query = query.where(CrmTask.queue == queue)
        if status:
            query = query.where(CrmTask.status == status)
        if lead_id:
            query = query.where(CrmTask.lead_id == lead_id)
        query = query.order_by(col(CrmTask.created_at).desc()).limit(limit)
        return list(session.exec(query).all())


def task_summary(db: Engine) -> dict[str, Any]:
    """Counts per queue and status, and how often each reject reason was given."""
    with Session(db) as session:
        rows = session.exec(
            select(CrmTask.queue, CrmTask.status, CrmTask.resolution, func.count()).group_by(
                col(CrmTask.queue), col(CrmTask.status), col(CrmTask.resolution)
            )
        ).all()
    by_queue: dict[str, dict[str, int]] = {}
    reasons: dict[str, int] = {}
    for queue, status, resolution, count in rows:
        statuses = by_queue.setdefault(queue, {})
        statuses[status] = statuses.get(status, 0) + count
        if status == "rejected" and resolution:
            reasons[resolution] = reasons.get(resolution, 0) + count
    return {"by_queue": by_queue, "reject_reasons": reasons}


def list_reviews(db: Engine, status: str | None) -> list[ComplianceReview]:
    with Session(db) as session:
        query = select(ComplianceReview).order_by(col(ComplianceReview.opened_at))
        if status:
            query = query.where(ComplianceReview.status == status)
        return list(session.exec(query).all())


def list_outbox(db: Engine, lead_id: str | None = None, limit: int = 500) -> list[OutboxMessage]:
    """Messages sent (or being sent), newest first."""
    with Session(db) as session:
        query = select(OutboxMessage).order_by(col(OutboxMessage.id).desc())
        if lead_id:
            query = query.where(OutboxMessage.lead_id == lead_id)
        return list(session.exec(query.limit(limit)).all())


def review_lead(db: Engine, review_id: str) -> str | None:
    with Session(db) as session:
        row = session.get(ComplianceReview, review_id)
        return row.lead_id if row else None


def archived_decisions(db: Engine, lead_id: str) -> list[Decision]:
    """Every archived decision of a lead, in order."""
    with Session(db) as session:
        rows = session.exec(
            select(DecisionLogEntry)
            .where(DecisionLogEntry.lead_id == lead_id)
            .order_by(col(DecisionLogEntry.at), col(DecisionLogEntry.id))
        ).all()
    return [
        Decision(
            seq=row.seq,
            chain=row.chain or None,
            at=row.at,
            trigger=row.trigger,
            rule_id=row.rule_id,
            program_version=row.program_version,
            inputs=json.loads(row.inputs),
            outcome=row.outcome,
        )
        for row in rows
    ]
