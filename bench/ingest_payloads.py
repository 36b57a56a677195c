"""What bench.ingest sends: new leads (valid NPIs, unique emails) and a mix of routine events
over them."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime
from typing import Any

from tests.helpers.factories import CLINICIAN, luhn_check_digit

# event type -> share of the ingest mix, and its properties
MIX: dict[str, tuple[float, dict[str, Any]]] = {
    "page_viewed": (
        0.45,
        {"url": "https://hcp.corvanta.example/moa", "topics": ["mechanism_of_action"]},
    ),
    "content_downloaded": (
        0.20,
        {"asset_id": "CVT-EVD-200", "title": "CORVA-HF evidence brochure", "topics": ["evidence"]},
    ),
    "email_opened": (0.25, {"message_id": "<bench-0001@corvanta.example>"}),
    "webinar_registered": (
        0.10,
        {"event_name": "CORVA-HF investigators' webinar", "topics": ["evidence"]},
    ),
}


class People:
    """New, distinct HCPs (unique email and NPI) in Chicago, ZIP 60611."""

    def __init__(self) -> None:
        self._tag = uuid.uuid4().hex[:6]
        self._next = random.randrange(10**7)

    def new(self) -> dict[str, Any]:
        self._next += 1
        body = "1" + f"{self._next % 10**8:08d}"
        email = f"hcp{self._next}.{self._tag}@northside-cardio.example"
        return {**CLINICIAN, "email": email, "npi": body + str(luhn_check_digit("80840" + body))}


def payload(person: dict[str, Any], type: str, properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "event_id": f"evt-{uuid.uuid4().hex}",
        "type": type,
        "occurred_at": datetime.now(UTC).isoformat(),
        "lead": person,
        "properties": properties,
    }


def ingest_plan(events: int, leads: int, people: People, seed: int) -> list[dict[str, Any]]:
    """`events` payloads spread evenly over `leads` new leads, in random order, mixed as MIX."""
    rng = random.Random(seed)
    persons = [people.new() for _ in range(leads)]
    owners = [persons[n % leads] for n in range(events)]
    rng.shuffle(owners)
    types = rng.choices(list(MIX), weights=[share for share, _ in MIX.values()], k=events)
    return [payload(p, t, MIX[t][1]) for p, t in zip(owners, types, strict=True)]
