"""Compliance review items: the reviewers' work list, written from the lead's workflow."""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlmodel import Session
from temporalio import activity

from models.lead_state import ReviewRecordInput, ReviewRecordResult
from models.tables import ComplianceReview, utcnow


class ReviewActivities:
    def __init__(self, db: Engine) -> None:
        self._db = db

    @activity.defn(name="open_review")
    def open_review(self, request: ReviewRecordInput) -> ReviewRecordResult:
        """Create (or, on a retry, find) the review item; mark it escalated when overdue."""
        with Session(self._db) as session:
            row = session.get(ComplianceReview, request.review_id)
            if row is None:
                row = ComplianceReview(
                    review_id=request.review_id,
                    lead_id=request.lead_id,
                    reason=request.reason,
                    trigger=request.trigger,
                    status="open",
                    opened_at=request.opened_at,
                    due_at=request.due_at,
                )
            if request.escalated and row.status == "open":
                row.status = "escalated"
            session.add(row)
            session.commit()
            return ReviewRecordResult(review_id=row.review_id, status=row.status)

    @activity.defn(name="close_review")
    def close_review(self, request: ReviewRecordInput) -> ReviewRecordResult:
        """Record the decision: who decided what, when, and why."""
        decision = request.decision
        assert decision is not None
        with Session(self._db) as session:
            row = session.get(ComplianceReview, request.review_id)
            if row is None:
                raise ValueError(f"no review {request.review_id}")
            if row.decided_at is None:
                row.status = "released" if decision.decision == "release" else "blocked"
                row.reviewer, row.actor, row.note = decision.reviewer, decision.actor, decision.note
                row.decided_at = utcnow()
                session.add(row)
                session.commit()
            return ReviewRecordResult(review_id=row.review_id, status=row.status)
