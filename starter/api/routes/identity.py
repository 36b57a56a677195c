"""`/v1/identity/reviews`: leads that may be one person, and a data steward's decision."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Path

from models.tables import IdentityReviewPublic
from starter.api.deps import ComplianceKey, DbDep, ProgramDep, require, status_filter
from starter.stewardship import (
    StewardDecision,
    StewardDecisionBody,
    StewardDecisionResult,
    decide_identity_review,
    list_identity_reviews,
)

router = APIRouter(prefix="/v1/identity", tags=["identity"])


ReviewStatus = Annotated[str | None, status_filter("open", "merged", "distinct")]


@router.get("/reviews", dependencies=[require("leads:read")])
def identity_reviews(db: DbDep, status: ReviewStatus = None) -> list[IdentityReviewPublic]:
    """Leads that may be one person, for a data steward; oldest first."""
    return [IdentityReviewPublic.model_validate(r) for r in list_identity_reviews(db, status)]


@router.post("/reviews/{review_id}/decide")
async def decide(
    review_id: Annotated[str, Path(min_length=1, max_length=40)],
    body: StewardDecisionBody,
    db: DbDep,
    program: ProgramDep,
    holder: ComplianceKey,
) -> StewardDecisionResult:
    """Merge the two leads (the older survives; consent combines least-permissively; the
    merged lead's identifiers then reach the survivor) or keep them distinct."""
    decision = StewardDecision(review_id=review_id, actor=holder.name, **body.model_dump())
    return await asyncio.to_thread(decide_identity_review, db, decision, program.consent)
