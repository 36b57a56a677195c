"""Compliance review decisions: the one service the API and the CLI call to release or block."""

from __future__ import annotations

import asyncio

from sqlalchemy.engine import Engine
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode

from models.lead_state import ReviewDecision, ReviewRecordResult, lead_workflow_id
from models.queries import review_lead
from workflows.lead import LeadWorkflow


class UnknownReview(LookupError):
    """No review item has this id."""

    def __init__(self, review_id: str) -> None:
        super().__init__(f"no review {review_id}")


class ReviewNotOpen(ValueError):
    """The review was already decided (or its lead is no longer held)."""

    def __init__(self, review_id: str) -> None:
        super().__init__(f"review {review_id} is not open")


async def decide_review(client: Client, db: Engine, decision: ReviewDecision) -> ReviewRecordResult:
    """Deliver a reviewer's decision to the held lead and return the recorded result.

    Raises:
        UnknownReview: no such review.
        ReviewNotOpen: the lead's workflow refused the decision.
    """
    lead_id = await asyncio.to_thread(review_lead, db, decision.review_id)
    if lead_id is None:
        raise UnknownReview(decision.review_id)
    handle = client.get_workflow_handle_for(LeadWorkflow.run, lead_workflow_id(lead_id))
    try:
        return await handle.execute_update(LeadWorkflow.decide_review, decision)  # type: ignore[no-any-return]
    except WorkflowUpdateFailedError as err:
        raise ReviewNotOpen(decision.review_id) from err
    except RPCError as err:
        if err.status is RPCStatusCode.NOT_FOUND:  # the lead's workflow has ended (erased)
            raise ReviewNotOpen(decision.review_id) from err
        raise
