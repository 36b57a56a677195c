"""What the lead's behaviour shows: engagement and interest, the rest and click timing it sets,
the intent fast lane, and the nurture track it points to."""

from __future__ import annotations

from datetime import datetime

from models.events import EventType, LeadEvent
from models.lead_state import Engagement, Stage
from models.program import Program
from workflows import scoring, stages, tracks
from workflows.checks import prop
from workflows.lead_core import LeadCore

E = EventType
HIGH_INTENT = frozenset(
    {E.MEETING_REQUESTED, E.DEMO_REQUESTED, E.SAMPLE_REQUESTED, E.PRICING_REQUESTED}
)


def known_topics(program: Program) -> frozenset[str]:
    """The topics the program scores, routes or has assets on (others are not remembered)."""
    scoring_rules = program.scoring
    interest = scoring_rules.fit.therapy_area_interest
    return frozenset(
        [*(interest.topics if interest else []), *scoring_rules.topic_bonus]
        + [t for rule in program.tracks.rules for t in rule.when.topics_any]
        + [t for asset in program.assets for t in asset.topics]
    )


class LeadEngagement:
    """Applies a commercial event's behaviour to the lead; shares the engine's state and log."""

    def __init__(self, engine: LeadCore, *, routing_enabled: bool) -> None:
        self.engine = engine
        self._routing_enabled = routing_enabled
        self.known_topics: frozenset[str] = frozenset()  # set with each program adopted

    def record_engagement(
        self, etype: EventType, event: LeadEvent, now: datetime, trigger: str
    ) -> None:
        """Score the event's behaviour and remember its interest (not after an objection)."""
        state, program = self.engine.state, self.engine.program
        topics = [t for t in (prop(event, "topics") or []) if t in self.known_topics]
        when = min(event.occurred_at, now)  # an event's time is when it happened, not arrived
        self._rest_after(etype, when, now, trigger)
        points = scoring.event_points(etype.value, topics, program.scoring)
        if state.marketing_objection:
            # After an objection to direct marketing nothing more is profiled.
            if points:
                self.engine.decide(
                    now, trigger, "score.objection", "not scored: objection to direct marketing"
                )
            return
        self._remember_interest(etype, event, topics)
        if not points:
            return
        state.sends_since_engagement = 0
        if state.stage is Stage.NEW:
            self.engine.move_stage(now, trigger, Stage.ENGAGED, "stage.first_engagement")
        state.engagement_carry = scoring.add_engagement(
            state.engagements,
            state.engagement_carry,
            Engagement(
                event_id=event.event_id, type=etype.value, at=when, points=points, topics=topics
            ),
            program.scoring.half_life,
        )
        if etype is E.EMAIL_CLICKED:
            self._clicked(now, trigger)

    def _rest_after(self, etype: EventType, when: datetime, now: datetime, trigger: str) -> None:
        """Some events (e.g. a meeting) hold touches back for a rest period."""
        state = self.engine.state
        rest = self.engine.program.cadence.rest_after.get(etype)
        if rest is not None:
            state.rest_until = max(filter(None, [state.rest_until, when + rest]))
            self.engine.decide(
                now, trigger, "cadence.rest", f"no touch before {state.rest_until.isoformat()}"
            )

    def _remember_interest(self, etype: EventType, event: LeadEvent, topics: list[str]) -> None:
        """The topics a lead showed interest in, and the program's assets it downloaded."""
        state = self.engine.state
        for topic in topics:
            if topic not in state.topics_seen:
                state.topics_seen.append(topic)
        asset_id = prop(event, "asset_id")
        if (
            etype is E.CONTENT_DOWNLOADED
            and self.engine.program.asset(str(asset_id)) is not None
            and asset_id not in state.consumed_assets
        ):
            state.consumed_assets.append(str(asset_id))

    def _clicked(self, now: datetime, trigger: str) -> None:
        """A click brings the next touch forward."""
        state = self.engine.state
        state.last_click_at = now
        soon = now + self.engine.program.cadence.after_click
        if state.planned_touch_at is None or soon < state.planned_touch_at:
            state.planned_touch_at = soon
            self.engine.decide(
                now,
                trigger,
                "cadence.click",
                f"next touch brought forward to {soon.isoformat()}",
            )

    def apply_intent(self, etype: EventType, now: datetime, trigger: str) -> None:
        """The fast lane: a high-intent request makes an MQL unless the lead is disqualified."""
        if etype not in HIGH_INTENT:
            return
        if etype is E.SAMPLE_REQUESTED and self._routing_enabled and self.engine.program.routing:
            # A sample request goes to licence verification and fulfilment, not to sales.
            self.engine.decide(now, trigger, "intent.sample", "sample request: routed, not an MQL")
            return
        blocked = scoring.disqualifiers(self.engine.state.facts, self.engine.program.scoring)
        if blocked:
            self.engine.decide(
                now, trigger, "intent.blocked", f"fast lane refused: {', '.join(blocked)}"
            )
            return
        self.engine.decide(now, trigger, "intent.fast_lane", f"{etype.value}: fast lane to routing")
        if self.engine.state.stage in stages.NURTURE_STAGES:
            self.engine.move_stage(now, trigger, Stage.MQL, "intent.fast_lane")

    def choose_track(self, event: LeadEvent, now: datetime, trigger: str) -> None:
        """Pick the track the event points to, its next asset, and when the first touch goes."""
        state, program = self.engine.state, self.engine.program
        rule = tracks.match_track_rule(program.tracks.rules, event, state.facts, state.rule_hits)
        engaged = bool(scoring.event_points(event.type, [], program.scoring))
        if rule is None and (state.track is not None or not engaged):
            return
        target = rule.track if rule else program.tracks.default
        rule_id = rule.id if rule else "track.default"
        if target != state.track:
            before = state.track or "none"
            state.track = target
            self.engine.decide(now, trigger, rule_id, f"track {before} -> {target}")
        if rule and rule.next_asset and rule.next_asset not in tracks.sent_assets(state):
            state.next_asset = rule.next_asset
            self.engine.decide(now, trigger, rule_id, f"next asset {rule.next_asset}")
        if not state.touches and state.planned_touch_at is None:
            state.planned_touch_at = now + program.cadence.first_touch_delay
            state.first_touch_pending = True
            self.engine.decide(
                now,
                trigger,
                "cadence.first_touch",
                f"first touch planned for {state.planned_touch_at.isoformat()}",
                {"delay": str(program.cadence.first_touch_delay)},
            )
        if rule and rule.touch_within:
            soon = now + rule.touch_within
            if state.planned_touch_at is None or soon < state.planned_touch_at:
                state.planned_touch_at = soon
                self.engine.decide(
                    now, trigger, rule_id, f"next touch no later than {soon.isoformat()}"
                )
