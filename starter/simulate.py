"""`leadflow simulate`: what a program would do with a journey, decided by the same pure engine
the lead workflow runs, with no server, database, email or CRM.

Marketing ops try a program change on paper first: feed a file of events (the `POST /v1/events`
envelope) and read the decisions, touches and routing it would produce. Touches are taken as
sent; free text is not screened; CRM tasks are shown as the routing decisions that ask for them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from leadflow_domain.enrichment import enrich, enriched_facts
from models.events import LeadEvent, LeadEventIn, LeadFacts
from models.lead_state import Decision, LeadState, SendTouchResult
from models.program import Program
from workflows.engine import LeadEngine

MAX_TOUCHES = 500  # a runaway cadence stops the simulation rather than the terminal


class SimulationError(ValueError):
    """A journey file that cannot be simulated; the message names the event and field."""


@dataclass(frozen=True)
class Simulation:
    decisions: list[Decision]
    state: LeadState


def read_journey(path: Path) -> list[LeadEventIn]:
    """Events from a JSON or YAML file: a list, or `{"events": [...]}`."""
    try:
        raw: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:
        raise SimulationError(f"{path}: cannot read ({err})") from err
    items = raw.get("events") if isinstance(raw, dict) else raw
    if not isinstance(items, list) or not items:
        raise SimulationError(f"{path}: expected a list of events or {{'events': [...]}}")
    events = []
    for index, item in enumerate(items):
        try:
            events.append(LeadEventIn.model_validate(item))
        except ValidationError as err:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in err.errors()
            )
            raise SimulationError(f"{path}: event {index + 1}: {problems}") from err
    return sorted(events, key=lambda e: e.occurred_at)


def _facts(event: LeadEventIn, program: Program) -> LeadFacts:
    """The facts intake would derive (enrichment against the program's reference data)."""
    return enriched_facts(event.lead, enrich(event.lead, None, program.reference))


def simulate(program: Program, events: list[LeadEventIn], until: timedelta) -> Simulation:
    """Apply the events in time order, letting the cadence send every touch due in between
    and for `until` after the last event."""
    engine = LeadEngine(LeadState(lead_id="ld_simulated"), program)
    end = events[-1].occurred_at + until
    touches = 0

    def touches_until(moment: datetime) -> None:
        nonlocal touches
        while (due := engine.state.next_touch_at) is not None and due <= moment:
            touches += 1
            if touches > MAX_TOUCHES:
                raise SimulationError(f"more than {MAX_TOUCHES} touches: check the cadence")
            order = engine.begin_touch(due)
            if order is None:
                continue
            asset = program.asset(order.asset_id)
            result = SendTouchResult(
                status="sent",
                asset_id=order.asset_id,
                asset_version=asset.version if asset else None,
                message_id=f"<simulated-{touches}@leadflow>",
            )
            engine.finish_touch(order, result, due)

    for event in events:
        touches_until(event.occurred_at)
        engine.apply_event(LeadEvent.from_intake(event, _facts(event, program)), event.occurred_at)
        engine.state.route_orders.clear()  # no CRM here: the routing decision is the answer
        engine.resume_if_due(event.occurred_at)
    touches_until(end)
    return Simulation(decisions=list(engine.state.decisions), state=engine.state)


def as_json(simulation: Simulation) -> str:
    state = simulation.state
    return json.dumps(
        {
            "stage": state.stage.value,
            "track": state.track,
            "score": state.score.model_dump(mode="json"),
            "touches": [t.model_dump(mode="json") for t in state.touches],
            "decisions": [d.model_dump(mode="json") for d in simulation.decisions],
        },
        indent=2,
    )
