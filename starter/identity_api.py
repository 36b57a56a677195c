"""HTTP routes for data stewards: `GET /v1/identity/reviews?status=` (scope `leads:read`) and
`POST /v1/identity/reviews/{review_id}/decide` (scope `compliance:act`)."""

import asyncio
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Request
from sqlalchemy.engine import Engine

from models.tables import IdentityReviewPublic
from starter.auth import KeyHolder
from starter.stewardship import (
    IdentityReviewNotOpen,
    StewardDecision,
    StewardDecisionBody,
    StewardDecisionResult,
    UnknownIdentityReview,
    UnknownLead,
    decide_identity_review,
    list_identity_reviews,
)


def identity_router() -> APIRouter:
    """The stewardship routes; built when the app is, so they share the API's key checks.

    (No postponed annotations in this module: FastAPI must see `require(...)` in them.)
    """
    from starter.api import require  # the API includes this router: import it when built

    router = APIRouter(prefix="/v1/identity", tags=["identity"])

    @router.get(
        "/reviews",
        dependencies=[require("leads:read")],
        response_model=list[IdentityReviewPublic],
    )
    def identity_reviews(
        request: Request,
        review_status: Annotated[
            str | None, Query(alias="status", pattern="^(open|merged|distinct)$")
        ] = None,
    ) -> list[IdentityReviewPublic]:
        """Leads that may be one person, for a data steward; oldest first."""
        rows = list_identity_reviews(_engine(request), review_status)
        return [IdentityReviewPublic.model_validate(row) for row in rows]

    @router.post("/reviews/{review_id}/decide", response_model=StewardDecisionResult)
    async def decide(
        request: Request,
        review_id: Annotated[str, Path(min_length=1, max_length=40)],
        body: StewardDecisionBody,
        holder: Annotated[KeyHolder, require("compliance:act")],
    ) -> StewardDecisionResult:
        """Merge the two leads (the older survives; consent combines least-permissively; the
        merged lead's identifiers then reach the survivor) or keep them distinct."""
        decision = StewardDecision(
            review_id=review_id,
            decision=body.decision,
            steward=body.steward,
            note=body.note,
            actor=holder.name,
        )
        rules = request.app.state.program.consent
        try:
            return await asyncio.to_thread(
                decide_identity_review, _engine(request), decision, rules
            )
        except (UnknownIdentityReview, UnknownLead) as err:
            raise HTTPException(404, str(err)) from err
        except IdentityReviewNotOpen as err:
            raise HTTPException(409, str(err)) from err

    return router


def _engine(request: Request) -> Engine:
    return request.app.state.db  # type: ignore[no-any-return]
