"""Stops on promotional email: the program's stop rules, opt-outs, spam complaints, hard
bounces, and fresh consent that lifts an opt-out it postdates."""

from __future__ import annotations

from datetime import datetime

from models.events import EventType, LeadEvent
from models.lead_state import Stage, StopRecord
from workflows import stages, tracks
from workflows.checks import prop, property_key
from workflows.lead_core import LeadCore

E = EventType
PROMOTIONAL_PURPOSES = frozenset({None, "", "promotional", "marketing", "all"})
EMAIL_CHANNELS = frozenset({None, "", "email", "all"})
OPT_OUT = "stop.opt_out"
SPAM_COMPLAINT = "stop.spam_complaint"
OBJECTIONS = frozenset({OPT_OUT, SPAM_COMPLAINT})


class EmailStops:
    """Starts and lifts the lead's stops; shares the engine's state and decision log."""

    def __init__(self, engine: LeadCore) -> None:
        self.engine = engine

    def apply(self, etype: EventType, event: LeadEvent, now: datetime, trigger: str) -> None:
        """The stops an event sets off: consent first, then the program's stop rules."""
        self._apply_consent(etype, event, now, trigger)
        for rule in self.engine.program.stop_rules:
            if etype not in rule.events:
                continue
            if rule.stops:
                self.stop(now, trigger, rule.id, rule.reason, rule.stage)
            elif rule.stage:
                self.engine.move_stage(now, trigger, rule.stage, rule.id)
            if rule.clears:
                self.lift(now, trigger, rule.clears, rule.reason)

    def _apply_consent(
        self, etype: EventType, event: LeadEvent, now: datetime, trigger: str
    ) -> None:
        """Opt-outs, complaints and hard bounces stop promotional email; fresh consent lifts
        an opt-out it postdates."""
        channel = property_key(prop(event, "channel"))
        purpose = property_key(prop(event, "purpose"))
        # An unsubscribe always ends promotional email; a withdrawal does unless it names
        # only another channel or another purpose (when in doubt, stop).
        opts_out = etype is E.UNSUBSCRIBED or (
            etype is E.CONSENT_WITHDRAWN
            and channel in EMAIL_CHANNELS | {"unknown"}
            and purpose in PROMOTIONAL_PURPOSES | {"unknown"}
        )
        if opts_out:
            self.engine.state.marketing_objection = True
            self.stop(now, trigger, OPT_OUT, "consent withdrawn / unsubscribed", Stage.OPTED_OUT)
        elif etype is E.SPAM_COMPLAINT:
            self.engine.state.marketing_objection = True
            self.stop(now, trigger, SPAM_COMPLAINT, "spam complaint", Stage.OPTED_OUT)
        elif etype is E.EMAIL_BOUNCED and prop(event, "bounce_type") == "hard":
            self.stop(now, trigger, "stop.hard_bounce", "hard bounce", None)
        elif (
            etype is E.CONSENT_GRANTED
            and channel in EMAIL_CHANNELS
            and purpose in PROMOTIONAL_PURPOSES
        ):
            self._consent_granted(event, now, trigger)

    def _consent_granted(self, event: LeadEvent, now: datetime, trigger: str) -> None:
        self.engine.state.consent_seen = True
        stop = self.engine.state.stops.get(OPT_OUT)
        if stop is not None and event.occurred_at <= stop.since:
            self.engine.decide(
                now,
                trigger,
                "restart.ignored",
                "consent granted before the opt-out: the opt-out stands",
            )
        else:
            self.lift(now, trigger, [OPT_OUT], "consent granted")

    def stop(
        self, now: datetime, trigger: str, rule_id: str, reason: str, stage: Stage | None = None
    ) -> None:
        """Stop promotional email for `reason`, moving the lead to `stage` when one is given."""
        state = self.engine.state
        if rule_id not in state.stops:
            state.stops[rule_id] = StopRecord(
                rule_id=rule_id, reason=reason, since=now, trigger=trigger
            )
            # A first touch held back is no longer a prompt reply: it keeps the sending window.
            state.first_touch_pending = False
            self.engine.decide(now, trigger, rule_id, f"promotional email stopped: {reason}")
        if stage is Stage.OPTED_OUT and state.stage is not Stage.OPTED_OUT:
            state.stage_before_opt_out = state.stage
        if stage is not None:
            self.engine.move_stage(now, trigger, stage, rule_id)

    def lift(self, now: datetime, trigger: str, rule_ids: list[str], reason: str) -> None:
        """Lift stop rules (e.g. `request open` once sales hands a lead back)."""
        lifted = [r for r in rule_ids if self.engine.state.stops.pop(r, None) is not None]
        if not lifted:
            return
        state = self.engine.state
        if OPT_OUT in lifted and not (state.stops.keys() & OBJECTIONS):
            state.marketing_objection = False
            self.engine.move_stage(now, trigger, self._stage_after_consent(), "restart.consent")
        self.engine.decide(now, trigger, "restart", f"lifted {', '.join(lifted)}: {reason}")

    def _stage_after_consent(self) -> Stage:
        """Fresh consent returns a lead to where it was, never past a sales decision."""
        before = self.engine.state.stage_before_opt_out
        if before is not None and before not in stages.NURTURE_STAGES:
            return before
        return Stage.NURTURING if tracks.sent_assets(self.engine.state) else Stage.ENGAGED
