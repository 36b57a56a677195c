"""The lead's decision core: pure and deterministic, so it runs the same in a workflow, a replay
and a property test. Every decision it takes is appended to the state's decision log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from models.events import EventType, LeadEvent, LeadFacts
from models.lead_state import (
    Decision,
    EventOutcome,
    LeadState,
    Pause,
    PauseRequest,
    ResumeRequest,
    ReviewDecision,
    SendTouchResult,
    Stage,
)
from models.program import Program
from workflows import crm_task, scoring, sla, stages
from workflows.checks import prop, rejection
from workflows.compliance_hold import ComplianceHold
from workflows.engagement import HIGH_INTENT, LeadEngagement, known_topics
from workflows.handoff import HandoffDesk
from workflows.router import Router
from workflows.stops import EmailStops
from workflows.touches import Touches, TouchOrder

E = EventType
MEDICAL = frozenset({E.MEDICAL_QUESTION, E.TRIAL_QUESTION})
EMAIL_ENGAGEMENT = frozenset({E.EMAIL_OPENED, E.EMAIL_CLICKED})


class LeadEngine:
    """Applies events, pauses and touches to one lead's state under one program version."""

    def __init__(self, state: LeadState, program: Program, *, routing_enabled: bool = True) -> None:
        self.state = state
        self._decisions_at_start = 0
        # Off only when replaying a history recorded before routing existed (workflow.patched).
        self.routing_enabled = routing_enabled
        self.engagement = LeadEngagement(self, routing_enabled=routing_enabled)
        self.router = Router(self)
        self.handoff = HandoffDesk(self, self.router)
        self.compliance = ComplianceHold(self)
        self.touches = Touches(self)
        self.stops = EmailStops(self)
        self.program = program

    @property
    def program(self) -> Program:
        return self._program

    @program.setter
    def program(self, program: Program) -> None:
        self._program = program
        self.engagement.known_topics = known_topics(program)

    # -- the program -----------------------------------------------------------------------

    def adopt_program(self, program: Program, fingerprint: str, now: datetime) -> None:
        """Decide by `program` from now on; a new version is logged and replans the cadence."""
        previous = self.state.program_version
        self.program = program
        self.state.program_version = program.version
        self.state.program_fingerprint = fingerprint
        if previous is not None and previous != program.version:
            update = f"program {previous} -> {program.version}"
            self.decide(now, "timer:touch", "program.updated", update)
            self.replan(now, "program.updated")

    def keep_last_good_program(self, now: datetime, reason: str) -> None:
        """Log that a new program was refused and the one in force stays."""
        self.decide(now, "timer:touch", "program.rejected", f"kept the last good program: {reason}")

    # -- the decision log ------------------------------------------------------------------

    def decide(
        self,
        now: datetime,
        trigger: str,
        rule_id: str,
        outcome: str,
        inputs: dict[str, str] | None = None,
    ) -> Decision:
        self.state.decision_seq += 1
        decision = Decision(
            seq=self.state.decision_seq,
            at=now,
            trigger=trigger,
            rule_id=rule_id,
            program_version=self.program.version,
            inputs=inputs or {},
            outcome=outcome,
        )
        self.state.decisions.append(decision)
        return decision

    def move_stage(self, now: datetime, trigger: str, target: Stage, rule_id: str) -> bool:
        """Move through the state machine; an illegal move is refused and logged."""
        current = self.state.stage
        if current is target:
            return False
        if not stages.can_move(current, target):
            self.decide(
                now,
                trigger,
                "stage.refused",
                f"refused {current.value} -> {target.value}",
                {"requested_by": rule_id},
            )
            return False
        self.state.stage = target
        self.decide(now, trigger, rule_id, f"stage {current.value} -> {target.value}")
        return True

    # -- events ----------------------------------------------------------------------------

    def apply_event(self, event: LeadEvent, now: datetime) -> EventOutcome:
        """Apply one event and return what it did (the answer to `submit_event`)."""
        state = self.state
        trigger = f"event:{event.event_id}"
        self._decisions_at_start = len(state.decisions)
        outcome = EventOutcome(
            event_id=event.event_id,
            status="accepted",
            stage_before=state.stage,
            stage_after=state.stage,
            fit_before=state.score.fit,
            engagement_before=state.score.engagement,
        )
        if not state.remember_event(event.event_id, self.program.long_life.recent_event_ids):
            self.decide(now, trigger, "event.duplicate", "ignored a duplicate delivery")
            return self._finish(outcome, "duplicate")
        state.events_total += 1
        problem = rejection(event)
        if problem:
            self.decide(
                now, trigger, "event.rejected", f"rejected: {problem}", {"type": event.type}
            )
            return self._finish(outcome, "rejected", problem)
        self._apply_valid(event, now, trigger)
        return self._finish(outcome, "accepted")

    def _apply_valid(self, event: LeadEvent, now: datetime, trigger: str) -> None:
        """A well-formed, new event: stops, holds, scores, track, routes and the next touch."""
        self._merge_facts(event.lead)
        etype = E(event.type)
        self.decide(
            now, trigger, "event.recorded", f"recorded {etype.value}", {"type": etype.value}
        )
        self.stops.apply(etype, event, now, trigger)
        routed = self._screened_route(event, now, trigger)
        if routed is None and etype in MEDICAL:
            # For medical information: no commercial score, no stage move, no text in the log.
            self.decide(now, trigger, "medical.question", "for medical information; not scored")
        self.compliance.hold_if_required(etype, event, routed, now, trigger)
        commercial = routed is None and etype not in MEDICAL
        if commercial:
            self.engagement.record_engagement(etype, event, now, trigger)
            self.engagement.apply_intent(etype, now, trigger)
            self.engagement.choose_track(event, now, trigger)
        elif routed is not None and etype in HIGH_INTENT and self.routing_enabled:
            # Drug safety comes first and has the report; the request itself (a structured
            # type, no text) still reaches the commercial side. It is not scored.
            self.engagement.apply_intent(etype, now, trigger)
        self.rescore(now, trigger, promote=commercial)
        if self.routing_enabled:
            crm_task.record_activity(self.state, self.program, etype, event, routed)
            self.handoff.accept_on_sales_response(etype, now, trigger)
            self.router.route_event(etype, event, routed, now, trigger)
        self.replan(now, trigger)

    def _screened_route(
        self, event: LeadEvent, now: datetime, trigger: str
    ) -> dict[str, Any] | None:
        """Where intake's screening sent the event's text (None: nowhere), logged."""
        screening = prop(event, "screening")
        if not (isinstance(screening, dict) and screening.get("route")):
            return None
        # Screened at intake: the report went to its case; the lead keeps the reference only.
        self.decide(
            now,
            trigger,
            "screening.routed",
            f"case {screening.get('case_ref')} routed to {screening.get('route')}; not scored",
            {"flags": ",".join(str(f) for f in screening.get("flags") or [])},
        )
        return screening

    def reject(self, event: LeadEvent, now: datetime, reason: str) -> EventOutcome:
        """Record an event that could not be applied (the lead carries on)."""
        self._decisions_at_start = len(self.state.decisions)
        outcome = EventOutcome(
            event_id=event.event_id,
            status="rejected",
            stage_before=self.state.stage,
            stage_after=self.state.stage,
        )
        self.decide(now, f"event:{event.event_id}", "event.rejected", f"rejected: {reason}")
        return self._finish(outcome, "rejected", reason)

    def _finish(
        self, outcome: EventOutcome, status: str, reason: str | None = None
    ) -> EventOutcome:
        state = self.state
        outcome.status, outcome.reason = status, reason
        outcome.stage_after = state.stage
        outcome.fit_after, outcome.engagement_after = state.score.fit, state.score.engagement
        outcome.track, outcome.next_touch_at = state.track, state.next_touch_at
        trigger = f"event:{outcome.event_id}"
        made = state.decisions[self._decisions_at_start :]
        outcome.actions = [f"{d.rule_id}: {d.outcome}" for d in made if d.trigger == trigger][-20:]
        return outcome

    def _merge_facts(self, facts: LeadFacts) -> None:
        current = self.state.facts
        changes = {
            name: value
            for name, value in facts
            if value is not None and getattr(current, name) != value
        }
        if changes:
            self.state.facts = current.model_copy(update=changes)

    # -- moves one collaborator sets off in another ----------------------------------------

    def stop(self, now: datetime, trigger: str, rule_id: str, reason: str) -> None:
        """Stop promotional email for a reason of the engine's callers (e.g. a recycle)."""
        self.stops.stop(now, trigger, rule_id, reason)

    def lift(self, now: datetime, trigger: str, rule_ids: list[str], reason: str) -> None:
        """Lift stop rules (e.g. `request open` once sales hands a lead back)."""
        self.stops.lift(now, trigger, rule_ids, reason)

    def apply_intent(self, etype: EventType, now: datetime, trigger: str) -> None:
        """The fast lane for a request routed later (e.g. after a compliance release)."""
        self.engagement.apply_intent(etype, now, trigger)

    # -- compliance hold -------------------------------------------------------------------

    def escalate_overdue_review(self, now: datetime) -> bool:
        """Escalate an undecided review once its time is up; True when it just escalated."""
        return self.compliance.escalate_overdue_review(now)

    def decide_review(self, decision: ReviewDecision, now: datetime) -> None:
        """Apply a reviewer's decision: release resumes where it stopped, block disqualifies."""
        trigger = f"update:decide_review:{decision.review_id}"
        self.compliance.settle_review(decision, now, trigger)
        if self.routing_enabled:
            self.router.route_held_request(decision.decision == "release", now, trigger)
        self.replan(now, trigger)

    # -- scores ----------------------------------------------------------------------------

    def rescore(self, now: datetime, trigger: str, *, promote: bool = True) -> None:
        """Recompute the score; with `promote`, crossing both thresholds makes an MQL."""
        state = self.state
        state.score = scoring.score(
            state.facts,
            state.topics_seen,
            state.engagements,
            state.engagement_carry,
            self.program.scoring,
            now,
        )
        if (
            promote
            and state.score.mql
            and self._fresh_since_recycle()
            and state.stage
            in {
                Stage.NEW,
                Stage.ENGAGED,
                Stage.NURTURING,
                Stage.RECYCLED,
            }
        ):
            self.move_stage(now, trigger, Stage.MQL, "score.mql")

    def _fresh_since_recycle(self) -> bool:
        """A recycled lead re-qualifies by score only through behaviour after the recycle."""
        since = self.state.recycled_at
        return since is None or any(e.at > since for e in self.state.engagements)

    # -- pause -----------------------------------------------------------------------------

    def pause(self, request: PauseRequest, now: datetime) -> None:
        self.state.first_touch_pending = False  # a held first touch keeps the sending window
        self.state.pause = Pause(
            by=request.by, reason=request.reason, since=now, until=request.until
        )
        until = request.until.isoformat() if request.until else "until resumed"
        self.decide(
            now,
            "signal:pause",
            "manual.pause",
            f"nurture paused {until}",
            {"by": request.by, "reason": request.reason},
        )
        self.replan(now, "signal:pause")

    def resume(self, request: ResumeRequest, now: datetime, trigger: str = "signal:resume") -> None:
        inputs = {"by": request.by, "reason": request.reason or ""}
        if self.state.pause is None:
            self.decide(now, trigger, "manual.resume", "ignored: not paused", inputs)
            return
        self.state.pause = None
        self.decide(now, trigger, "manual.resume", "nurture resumed", inputs)
        self.replan(now, trigger)

    def resume_if_due(self, now: datetime) -> None:
        pause = self.state.pause
        if pause is not None and pause.until is not None and pause.until <= now:
            self.resume(
                ResumeRequest(by="leadflow", reason="pause period ended"), now, "timer:pause_until"
            )

    # -- touches ---------------------------------------------------------------------------

    def replan(self, now: datetime, trigger: str) -> None:
        """Recompute when the next touch will be attempted, and log when it changes."""
        self.touches.replan(now, trigger)

    def wake_at(self) -> datetime | None:
        """When the workflow must wake without an event: a touch or the end of a pause."""
        times = [self.state.next_touch_at]
        if self.state.pause is not None:
            times.append(self.state.pause.until)
        times.append(self.compliance.review_due_at())
        if self.routing_enabled:
            times.append(sla.next_due(self.state))
        pending = [t for t in times if t is not None]
        return min(pending) if pending else None

    def begin_touch(self, now: datetime) -> TouchOrder | None:
        """The one recorded check at send time; an order to send, or None with the reason logged."""
        return self.touches.begin(now)

    def finish_touch(self, order: TouchOrder, result: SendTouchResult, now: datetime) -> None:
        """Record what the send did and plan the next touch on the track's interval."""
        self.touches.finish(order, result, now)
