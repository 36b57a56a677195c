"""The lead's promotional touches: whether email may go at all, when the next touch is due,
the check at send time, and what a send (or a refusal) does to the plan."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from models.lead_state import SendTouchResult, Stage, TouchRecord
from workflows import cadence, stages, tracks
from workflows.lead_core import LeadCore

TOUCHES_KEPT = 200


@dataclass(frozen=True)
class TouchOrder:
    """What the workflow should ask the messaging activity to send now."""

    touch_id: str
    asset_id: str
    track: str | None
    first_touch: bool


class Touches:
    """Plans, checks and records the lead's touches; shares the engine's state and log."""

    def __init__(self, engine: LeadCore) -> None:
        self.engine = engine

    def suppression(self) -> str | None:
        """Why no promotional email may go to this lead at all right now (None = it may)."""
        state = self.engine.state
        if state.stops:
            return "; ".join(sorted(s.reason for s in state.stops.values()))
        if state.pause is not None:
            return f"paused by {state.pause.by}: {state.pause.reason}"
        if state.open_handoff:
            return "handoff open with sales"
        if state.stage not in stages.NURTURE_STAGES:
            return f"stage {state.stage.value}"
        return None

    def sent_times(self) -> list[datetime]:
        return [t.at for t in self.engine.state.touches if t.status == "sent"]

    def replan(self, now: datetime, trigger: str) -> None:
        """Recompute when the next touch will be attempted, and log when it changes."""
        state, program = self.engine.state, self.engine.program
        target: datetime | None = None
        if (
            self.suppression() is None
            and state.planned_touch_at is not None
            and tracks.next_asset(state, program) is not None
        ):
            target = cadence.effective_touch_time(
                max(state.planned_touch_at, now),
                state,
                program.cadence,
                self.sent_times(),
                first_touch=state.first_touch_pending,
            )
        if target != state.next_touch_at:
            state.next_touch_at = target
            outcome = f"next touch at {target.isoformat()}" if target else "no touch scheduled"
            self.engine.decide(now, trigger, "cadence.next_touch", outcome)

    def begin(self, now: datetime) -> TouchOrder | None:
        """The one recorded check at send time; an order to send, or None with the reason logged."""
        state, program = self.engine.state, self.engine.program
        trigger = "timer:touch"
        why_not = self.suppression()
        if why_not:
            state.next_touch_at = None
            self.engine.decide(now, trigger, "touch.suppressed", f"not sent: {why_not}")
            return None
        asset_id = tracks.next_asset(state, program)
        if asset_id is None:
            state.next_touch_at = state.planned_touch_at = None
            self.engine.decide(
                now, trigger, "cadence.track_complete", f"track {state.track} has no unsent asset"
            )
            return None
        blocker = cadence.send_blocker(
            state, program.cadence, self.sent_times(), now, first_touch=state.first_touch_pending
        )
        if blocker:
            self.engine.decide(now, trigger, "touch.deferred", f"deferred: {blocker}")
            state.next_touch_at = None
            self.replan(now, trigger)
            return None
        return TouchOrder(
            touch_id=f"touch-{state.touches_total + 1}",
            asset_id=asset_id,
            track=state.track,
            first_touch=state.first_touch_pending,
        )

    def finish(self, order: TouchOrder, result: SendTouchResult, now: datetime) -> None:
        """Record what the send did and plan the next touch on the track's interval."""
        state, program = self.engine.state, self.engine.program
        trigger = "timer:touch"
        self._record_touch(order, result, now)
        if result.status == "sent":
            self._touch_sent(order, result, now, trigger)
        else:
            self.engine.decide(
                now,
                trigger,
                "touch.blocked",
                f"not sent: {result.reason}",
                {"touch_id": order.touch_id, "asset_id": result.asset_id},
            )
        track = program.tracks.definitions.get(state.track) if state.track else None
        interval = track.interval if track else None
        state.planned_touch_at = now + interval if interval else None
        state.next_touch_at = None
        self.replan(now, trigger)

    def _record_touch(self, order: TouchOrder, result: SendTouchResult, now: datetime) -> None:
        state = self.engine.state
        state.touches.append(
            TouchRecord(
                touch_id=order.touch_id,
                asset_id=result.asset_id,
                asset_version=result.asset_version,
                status=result.status,
                at=now,
                track=order.track,
                message_id=result.message_id,
            )
        )
        del state.touches[:-TOUCHES_KEPT]
        state.touches_total += 1
        state.first_touch_pending = False
        if state.next_asset == order.asset_id:
            state.next_asset = None

    def _touch_sent(
        self, order: TouchOrder, result: SendTouchResult, now: datetime, trigger: str
    ) -> None:
        self.engine.decide(
            now,
            trigger,
            "touch.sent",
            f"sent {result.asset_id} v{result.asset_version}",
            {"touch_id": order.touch_id, "track": order.track or ""},
        )
        self.engine.state.sends_since_engagement += 1
        if self.engine.state.stage is Stage.ENGAGED:
            self.engine.move_stage(now, trigger, Stage.NURTURING, "stage.first_touch")
        self._check_silence(now, trigger)

    def _check_silence(self, now: datetime, trigger: str) -> None:
        silence = self.engine.program.tracks.silence
        state = self.engine.state
        if silence is None or state.track == silence.track:
            return
        if state.sends_since_engagement >= silence.after_sends:
            before = state.track
            state.track = silence.track
            state.next_asset = None
            self.engine.decide(
                now,
                trigger,
                "track.silence",
                f"track {before} -> {silence.track}: "
                f"{state.sends_since_engagement} sends without engagement",
            )
