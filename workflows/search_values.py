"""LeadSearchValues: what a lead workflow publishes for ops to list leads by (no PII)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from temporalio.common import SearchAttributeUpdate

from models.lead_state import LeadState
from models.search import LEAD_QUEUE, LEAD_SCORE, LEAD_STAGE, LEAD_TRACK

SCORE_STEP = 10  # LeadScore is republished when the score moves this much


@dataclass(frozen=True)
class LeadSearchValues:
    stage: str
    track: str
    queue: str
    score: int

    @classmethod
    def of(cls, state: LeadState) -> LeadSearchValues:
        return cls(
            stage=state.stage.value,
            track=state.track or "",
            queue=state.owner_queue or "",
            score=state.score.fit + int(state.score.engagement),
        )

    def differs_enough_from(self, published: LeadSearchValues) -> bool:
        """Stage, track or queue changed, or the score moved by SCORE_STEP or more."""
        relabelled = (self.stage, self.track, self.queue) != (
            published.stage,
            published.track,
            published.queue,
        )
        return relabelled or abs(self.score - published.score) >= SCORE_STEP

    def updates(self) -> list[SearchAttributeUpdate[Any]]:
        return [
            LEAD_STAGE.value_set(self.stage),
            LEAD_TRACK.value_set(self.track),
            LEAD_QUEUE.value_set(self.queue),
            LEAD_SCORE.value_set(self.score),
        ]
