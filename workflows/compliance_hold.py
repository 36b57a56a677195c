"""The compliance hold: which events put a lead on hold for review, when an undecided review
escalates, and what a reviewer's release or block does to the lead."""

from __future__ import annotations

from datetime import datetime

from models.events import EventType, LeadEvent
from models.lead_state import Review, ReviewDecision, Stage
from workflows.checks import prop, property_key
from workflows.lead_core import LeadCore

E = EventType
HOLD = "stop.compliance_hold"
PROMOTIONAL_REQUESTS = frozenset(
    {E.INFO_REQUESTED, E.DEMO_REQUESTED, E.SAMPLE_REQUESTED, E.PRICING_REQUESTED}
)


class ComplianceHold:
    """Opens, escalates and settles the lead's compliance review (one open at a time)."""

    def __init__(self, engine: LeadCore) -> None:
        self.engine = engine

    def hold_if_required(
        self,
        etype: EventType,
        event: LeadEvent,
        routed: dict[str, object] | None,
        now: datetime,
        trigger: str,
    ) -> None:
        """Hold the lead when the event needs a reviewer before anything promotional."""
        state, program = self.engine.state, self.engine.program
        holds = program.compliance
        flags = routed.get("flags") if routed else None
        asset = program.asset(str(prop(event, "asset_id") or ""))
        asks_for_promotion = etype in PROMOTIONAL_REQUESTS or (
            etype is E.CONTENT_DOWNLOADED and asset is not None and asset.promotional
        )
        reason = None
        if holds.off_label and isinstance(flags, list) and "off_label" in flags:
            reason = "off-label topic in the lead's own words"
        elif (
            holds.partner_data_without_consent
            and property_key(prop(event, "source")) == "partner"
            and not prop(event, "consent_basis")
        ):
            reason = "partner-sourced data without a consent basis"
        elif (
            holds.unverified_promotional_request
            and asks_for_promotion
            and state.facts.hcp_verified is False
        ):
            reason = "unverified HCP asking for promotional material"
        elif (
            holds.missing_consent_basis
            and asks_for_promotion
            and not state.consent_seen
            and (state.facts.country or "") in program.consent.opt_in_countries
        ):
            reason = "no consent basis for promotion in an opt-in country"
        if reason:
            self.hold(now, trigger, reason)

    def hold(self, now: datetime, trigger: str, reason: str) -> None:
        """Put the lead on compliance hold with a review item (one open review at a time)."""
        engine, state = self.engine, self.engine.state
        if state.review is not None:
            engine.decide(now, trigger, "compliance.hold", f"already held; also: {reason}")
            return
        state.reviews_total += 1
        state.review = Review(
            review_id=f"{state.lead_id}-r{state.reviews_total}",
            reason=reason,
            trigger=trigger,
            opened_at=now,
            due_at=now + engine.program.compliance.review_within,
            stage_before=state.stage,
        )
        engine.stop(now, trigger, HOLD, f"compliance review: {reason}")
        engine.move_stage(now, trigger, Stage.COMPLIANCE_HOLD, HOLD)
        engine.decide(now, trigger, "compliance.hold", f"review {state.review.review_id}: {reason}")

    def review_due_at(self) -> datetime | None:
        """When the open review escalates unless decided (None: nothing to escalate)."""
        review = self.engine.state.review
        return review.due_at if review is not None and not review.escalated else None

    def escalate_overdue_review(self, now: datetime) -> bool:
        """Escalate an undecided review once its time is up; True when it just escalated."""
        review = self.engine.state.review
        if review is None or review.escalated or now < review.due_at:
            return False
        review.escalated = True
        self.engine.decide(
            now, "timer:review_due", "compliance.escalated", f"review {review.review_id} overdue"
        )
        return True

    def settle_review(self, decision: ReviewDecision, now: datetime, trigger: str) -> None:
        """Close the review: release returns to the stage it held, block disqualifies."""
        engine, state = self.engine, self.engine.state
        review = state.review
        assert review is not None and review.review_id == decision.review_id
        inputs = {"reviewer": decision.reviewer, "note": decision.note or ""}
        if decision.actor:
            inputs["actor"] = decision.actor
        engine.decide(
            now, trigger, f"compliance.{decision.decision}", f"review {review.review_id}", inputs
        )
        state.stops.pop(HOLD, None)
        state.review = None
        if decision.decision == "release":
            engine.move_stage(now, trigger, review.stage_before, "compliance.release")
        else:
            engine.move_stage(now, trigger, Stage.DISQUALIFIED, "compliance.block")
