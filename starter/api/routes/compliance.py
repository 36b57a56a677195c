"""`/v1/compliance/reviews`: leads held for compliance review, and the reviewer's decision."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from models.lead_state import ReviewDecision, ReviewRecordResult
from models.queries import list_reviews
from models.tables import ComplianceReviewPublic
from starter.api.deps import ClientDep, ComplianceKey, DbDep, require, status_filter
from starter.api.schemas import ReviewBody
from starter.review_decisions import decide_review

router = APIRouter(prefix="/v1/compliance", tags=["compliance"])


ReviewStatus = Annotated[str | None, status_filter("open", "escalated", "released", "blocked")]


@router.get("/reviews", dependencies=[require("compliance:act")])
def compliance_reviews(db: DbDep, status: ReviewStatus = None) -> list[ComplianceReviewPublic]:
    """Leads held for compliance review, oldest first."""
    return [ComplianceReviewPublic.model_validate(r) for r in list_reviews(db, status)]


@router.post("/reviews/{review_id}/decide")
async def decide_compliance_review(
    review_id: str, body: ReviewBody, client: ClientDep, db: DbDep, holder: ComplianceKey
) -> ReviewRecordResult:
    """Release (resume where it stopped) or block (disqualify) a held lead."""
    decision = ReviewDecision(review_id=review_id, actor=holder.name, **body.model_dump())
    return await decide_review(client, db, decision)
