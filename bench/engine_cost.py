"""CPU per event in the lead's decision core (what a workflow replay pays per signal).

Run: .venv/bin/python -m bench.engine_cost [--events 3000]

Baseline, measured in the same run: decoding the same event payloads with pydantic, which
every signal costs anyway; the engine's figure is reported as a ratio to it.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime, timedelta

from models.events import LeadEvent, LeadFacts
from models.lead_state import LeadState
from models.program import load_program
from starter.settings import SAMPLE_PROGRAM
from workflows.engine import LeadEngine


def main(count: int) -> None:
    program = load_program(SAMPLE_PROGRAM)
    facts = LeadFacts(role="physician", country="US", time_zone="America/Chicago")
    start = datetime(2026, 11, 23, 15, tzinfo=UTC)
    events = [
        LeadEvent(
            event_id=f"e{n}",
            type="page_viewed",
            occurred_at=start,
            lead=facts,
            properties={"topics": ["mechanism_of_action"]},
        )
        for n in range(count)
    ]
    payloads = [event.model_dump_json() for event in events]
    began = time.perf_counter()
    for payload in payloads:
        LeadEvent.model_validate_json(payload)
    decode = (time.perf_counter() - began) / count
    engine = LeadEngine(LeadState(lead_id="ld_bench"), program)
    began = time.perf_counter()
    for n, event in enumerate(events):
        engine.apply_event(event, start + timedelta(seconds=n))
    apply = (time.perf_counter() - began) / count
    print(f"baseline: decode one event payload   {decode * 1000:7.3f} ms")
    print(f"LeadEngine.apply_event per event      {apply * 1000:7.3f} ms  ({apply / decode:.1f}x)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=3000)
    main(parser.parse_args().events)
