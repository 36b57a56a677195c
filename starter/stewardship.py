"""Data stewardship of identities: leads that may be one person wait for a data
steward, who merges them or keeps them distinct. Nothing is ever merged automatically.

A review opens when a new lead has the same name and institution as an existing one (a weak
match), or when an event's identifiers point at two leads (a conflict; the event itself is
still refused with 409). A merge keeps the older lead, moves identifiers it lacks, combines
consent least-permissively, and is logged append-only with who, what, when and why.
Afterwards the merged lead's identifiers resolve to the survivor, so later events reach the
survivor's workflow; the merged lead's workflow is left as it is.
"""

from __future__ import annotations

import json
import secrets
from datetime import datetime
from typing import Literal

import sqlalchemy as sa
import structlog
from pydantic import BaseModel, Field
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from leadflow_domain.consent import (
    PERMISSIVENESS,
    ConsentState,
    consent_records,
    effective_consent,
)
from models.compliance_rules import ConsentRules
from models.tables import ConsentRecord, IdentityReview, Lead, LeadMerge, utcnow
from starter.identity import refresh_match_keys, survivor

log = structlog.get_logger(__name__)

REASONS = {
    "weak_match": "same name and institution",
    "conflict": "one event's identifiers belong to both leads",
}
MAX_CANDIDATES = 10
IDENTIFIERS = ("email", "npi", "crm_id")
PROFILE_FIELDS = ("first_name", "last_name", "country", "organization")
# A lead without an applicable record ("none", "no_objection") carries no consent decision
# of its own.
NO_RECORD = frozenset({"none", "no_objection"})


class UnknownIdentityReview(LookupError):
    """No identity review has this id."""

    def __init__(self, review_id: str) -> None:
        super().__init__(f"no identity review {review_id}")


class UnknownLead(LookupError):
    """A review names a lead that no longer exists."""

    def __init__(self, lead_id: str) -> None:
        super().__init__(f"lead {lead_id} named by this review no longer exists")


class IdentityReviewNotOpen(ValueError):
    """The review was already decided."""

    def __init__(self, review_id: str, status: str) -> None:
        super().__init__(f"identity review {review_id} is not open (it is {status})")


class StewardDecisionBody(BaseModel):
    """What a steward sends: the decision, who decided, and why."""

    decision: Literal["merge", "distinct"]
    steward: str = Field(min_length=1, max_length=200)
    note: str | None = Field(default=None, max_length=2000)


class StewardDecision(StewardDecisionBody):
    """A data steward's decision on one identity review."""

    review_id: str = Field(min_length=1, max_length=40)
    actor: str = Field(min_length=1, max_length=200, description="the acting API key or user")


class ConsentCombined(BaseModel):
    """A consent record a merge appended to the survivor's ledger, and why."""

    channel: str
    purpose: str
    status: str
    survivor_was: str
    merged_was: str


class MergeMoves(BaseModel):
    """What a merge moved (field names only: the values stay on the lead rows)."""

    identifiers: list[str] = Field(default_factory=list)
    profile: list[str] = Field(default_factory=list)
    consent: list[ConsentCombined] = Field(default_factory=list)


class StewardDecisionResult(BaseModel):
    """The decided review and, for a merge, which lead survived and what moved."""

    review_id: str
    status: str
    decided_by: str
    actor: str
    decided_at: datetime
    note: str | None = None
    merge_id: str | None = None
    survivor_lead_id: str | None = None
    merged_lead_id: str | None = None
    moved: MergeMoves | None = None


# --- Opening reviews -------------------------------------------------------------------------


def open_weak_match_reviews(session: Session, lead_id: str) -> list[str]:
    """Open a review for each unmerged lead with this lead's name and institution."""
    lead = session.get(Lead, lead_id)
    if lead is None or lead.merged_into or not (lead.name_key and lead.org_key):
        return []
    candidates = session.exec(
        select(Lead.lead_id)
        .where(
            Lead.name_key == lead.name_key,
            Lead.org_key == lead.org_key,
            Lead.lead_id != lead_id,
            col(Lead.merged_into).is_(None),
        )
        .order_by(col(Lead.created_at))
        .limit(MAX_CANDIDATES)
    ).all()
    opened = (_open(session, "weak_match", lead_id, candidate) for candidate in candidates)
    return [review_id for review_id in opened if review_id]


def record_conflict(session: Session, lead_ids: tuple[str, ...]) -> list[str]:
    """Open a review naming the leads one event's identifiers point at (strongest first)."""
    if len(lead_ids) < 2:
        return []
    first, *others = lead_ids
    opened = (_open(session, "conflict", first, other) for other in others)
    return [review_id for review_id in opened if review_id]


def _open(session: Session, kind: str, lead_id: str, candidate_lead_id: str) -> str | None:
    """One review per pair of leads and kind: a repeated match opens nothing new."""
    low, high = sorted((lead_id, candidate_lead_id))
    review = IdentityReview(
        review_id=f"idr_{secrets.token_hex(8)}",
        kind=kind,
        lead_id=lead_id,
        candidate_lead_id=candidate_lead_id,
        pair_key=f"{kind}:{low}:{high}",
        reason=REASONS[kind],
        status="open",
        created_at=utcnow(),
    )
    session.add(review)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        return None
    log.info(
        "identity review opened",
        review_id=review.review_id,
        kind=kind,
        lead_id=lead_id,
        candidate_lead_id=candidate_lead_id,
    )
    return review.review_id


# --- Listing and deciding --------------------------------------------------------------------


def list_identity_reviews(db: Engine, status: str | None = None) -> list[IdentityReview]:
    """Identity reviews, oldest first (at most 500)."""
    with Session(db) as session:
        query = select(IdentityReview).order_by(col(IdentityReview.created_at))
        if status:
            query = query.where(IdentityReview.status == status)
        return list(session.exec(query.limit(500)).all())


def decide_identity_review(
    db: Engine, decision: StewardDecision, rules: ConsentRules
) -> StewardDecisionResult:
    """Record a steward's decision; `merge` merges the two leads in the same transaction.

    Raises:
        UnknownIdentityReview: no such review.
        IdentityReviewNotOpen: it was already decided.
    """
    now = utcnow()
    status = "merged" if decision.decision == "merge" else "distinct"
    with Session(db) as session:
        review = session.get(IdentityReview, decision.review_id)
        if review is None:
            raise UnknownIdentityReview(decision.review_id)
        _claim(session, review, decision, status, now)
        merge = _merge(session, review, decision, rules, now) if status == "merged" else None
        session.commit()
        log.info(
            "identity review decided",
            review_id=decision.review_id,
            decision=status,
            actor=decision.actor,
            merge_id=merge.merge_id if merge else None,
        )
        return StewardDecisionResult(
            review_id=decision.review_id,
            status=status,
            decided_by=decision.steward,
            actor=decision.actor,
            decided_at=now,
            note=decision.note,
            merge_id=merge.merge_id if merge else None,
            survivor_lead_id=merge.survivor_lead_id if merge else None,
            merged_lead_id=merge.merged_lead_id if merge else None,
            moved=MergeMoves.model_validate_json(merge.moved) if merge else None,
        )


def _claim(
    session: Session,
    review: IdentityReview,
    decision: StewardDecision,
    status: str,
    now: datetime,
) -> None:
    """Decide the review only if it is still open (two stewards cannot both decide it)."""
    claimed = session.execute(
        sa.update(IdentityReview)
        .where(
            col(IdentityReview.review_id) == decision.review_id,
            col(IdentityReview.status) == "open",
        )
        .values(
            status=status,
            decided_by=decision.steward,
            actor=decision.actor,
            decided_at=now,
            note=decision.note,
        )
    )
    if not claimed.rowcount:  # type: ignore[attr-defined]
        session.rollback()
        session.refresh(review)
        raise IdentityReviewNotOpen(decision.review_id, review.status)


# --- Merging ---------------------------------------------------------------------------------


def _locked(session: Session, lead_id: str) -> Lead:
    lead = session.get(Lead, lead_id, with_for_update=True)
    if lead is None:
        raise UnknownLead(lead_id)
    return survivor(session, lead)


def _merge(
    session: Session,
    review: IdentityReview,
    decision: StewardDecision,
    rules: ConsentRules,
    now: datetime,
) -> LeadMerge | None:
    """Merge the review's two leads into the older one; None when they are one lead already
    (an earlier merge joined them)."""
    first, second = _locked(session, review.lead_id), _locked(session, review.candidate_lead_id)
    if first.lead_id == second.lead_id:
        return None
    keep, gone = sorted((first, second), key=lambda lead: (lead.created_at, lead.lead_id))
    merge_id = f"mg_{secrets.token_hex(8)}"
    moves = MergeMoves(identifiers=_move_identifiers(session, keep, gone))
    moves.profile = [f for f in PROFILE_FIELDS if getattr(gone, f) and not getattr(keep, f)]
    for field in moves.profile:
        setattr(keep, field, getattr(gone, field))
    refresh_match_keys(keep)
    gone.merged_into = keep.lead_id
    moves.consent = _combine_consent(session, keep, gone, merge_id, rules, now)
    merge = LeadMerge(
        merge_id=merge_id,
        survivor_lead_id=keep.lead_id,
        merged_lead_id=gone.lead_id,
        review_id=review.review_id,
        steward=decision.steward,
        actor=decision.actor,
        at=now,
        moved=moves.model_dump_json(),
        note=decision.note,
    )
    session.add_all([keep, gone, merge])
    return merge


def _move_identifiers(session: Session, keep: Lead, gone: Lead) -> list[str]:
    """Move each identifier the survivor lacks; never overwrite one it has. Identifiers are
    unique, so the merged lead gives its up before the survivor takes them."""
    moving = {f: getattr(gone, f) for f in IDENTIFIERS if getattr(gone, f) and not getattr(keep, f)}
    for field in moving:
        setattr(gone, field, None)
    session.add(gone)
    session.flush()
    for field, value in moving.items():
        setattr(keep, field, value)
    return list(moving)


def _combine_consent(
    session: Session,
    keep: Lead,
    gone: Lead,
    merge_id: str,
    rules: ConsentRules,
    now: datetime,
) -> list[ConsentCombined]:
    """Append to the survivor's ledger, per channel and purpose either ledger names, a record
    that makes its consent no more permissive than the merged lead's recorded consent
    (least permissive wins): a withdrawal carries over; an expired or unconfirmed consent leaves the
    survivor pending; a grant never carries over. Existing records are never changed."""
    kept, merged = consent_records(session, keep.lead_id), consent_records(session, gone.lead_id)
    country = keep.country or gone.country
    combined = []
    for channel, purpose in sorted({(r.channel, r.purpose) for r in [*kept, *merged]}):
        ours = effective_consent(kept, channel, purpose, country, now, rules)
        theirs = effective_consent(merged, channel, purpose, country, now, rules)
        if not _restricts(theirs, ours):
            continue
        status = "withdrawn" if theirs.status == "withdrawn" else "pending"
        if status == ours.status:
            continue
        evidence = _evidence(keep, gone, merge_id, ours, theirs)
        session.add(_merge_record(keep, merge_id, channel, purpose, status, evidence, now))
        combined.append(
            ConsentCombined(
                channel=channel,
                purpose=purpose,
                status=status,
                survivor_was=ours.status,
                merged_was=theirs.status,
            )
        )
    return combined


def _restricts(theirs: ConsentState, ours: ConsentState) -> bool:
    """Whether the merged lead's recorded consent is less permissive than the survivor's."""
    if theirs.status in NO_RECORD:
        return False
    return PERMISSIVENESS.get(theirs.status, 0) < PERMISSIVENESS.get(ours.status, 0)


def _evidence(
    keep: Lead, gone: Lead, merge_id: str, ours: ConsentState, theirs: ConsentState
) -> str:
    return json.dumps(
        {
            "merge_id": merge_id,
            "survivor_lead_id": keep.lead_id,
            "merged_lead_id": gone.lead_id,
            "survivor_consent": str(ours),
            "merged_consent": str(theirs),
        }
    )


def _merge_record(
    keep: Lead,
    merge_id: str,
    channel: str,
    purpose: str,
    status: str,
    evidence: str,
    now: datetime,
) -> ConsentRecord:
    return ConsentRecord(
        lead_id=keep.lead_id,
        channel=channel,
        purpose=purpose,
        status=status,
        source="merge",
        method="merge",
        evidence=evidence,
        event_id=f"merge-{merge_id}",
        recorded_at=now,
    )
