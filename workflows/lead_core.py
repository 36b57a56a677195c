"""What the engine's collaborators (handoff, compliance hold, touches, ...) need from the lead
engine: the state and program they decide on, the decision log and a few shared moves."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from models.events import EventType
from models.lead_state import Decision, LeadState, Stage
from models.program import Program

Inputs = dict[str, str]  # what a decision was based on, by name


class LeadCore(Protocol):
    """The lead engine as its collaborators see it: state, program, decision log, stage moves,
    and the nurture moves (replan, fast lane, stop and lift) that one step sets off in another."""

    @property
    def state(self) -> LeadState: ...

    @property
    def program(self) -> Program: ...

    def decide(
        self, now: datetime, trigger: str, rule_id: str, outcome: str, inputs: Inputs | None = None
    ) -> Decision: ...

    def move_stage(self, now: datetime, trigger: str, target: Stage, rule_id: str) -> bool: ...

    def replan(self, now: datetime, trigger: str) -> None: ...

    def apply_intent(self, etype: EventType, now: datetime, trigger: str) -> None: ...

    def stop(self, now: datetime, trigger: str, rule_id: str, reason: str) -> None: ...

    def lift(self, now: datetime, trigger: str, rule_ids: list[str], reason: str) -> None: ...
