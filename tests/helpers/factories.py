"""Event payloads as services send them."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any


def luhn_check_digit(payload: str) -> int:
    total = 0
    for position, char in enumerate(reversed(payload)):
        digit = int(char) * (2 if position % 2 == 0 else 1)
        total += digit - 9 if digit > 9 else digit
    return (10 - total % 10) % 10


def npi_for(seed: str) -> str:
    """A well-formed US NPI (DOMAIN 19) that is the same for the same seed, e.g. an email."""
    body = "1" + str(int(hashlib.sha256(seed.encode()).hexdigest(), 16))[:8]
    return body + str(luhn_check_digit("80840" + body))


CLINICIAN = {
    "email": "a.rivera@northside-cardio.example",
    "first_name": "Ana",
    "last_name": "Rivera",
    "role": "physician",
    "specialty": "cardiology",
    "org_type": "hospital",
    "country": "US",
    "postal_code": "60611",
    "time_zone": "America/Chicago",
}


def event_payload(
    type: str = "content_downloaded", email: str = "a.rivera@northside-cardio.example", **extra: Any
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "event_id": f"evt-{uuid.uuid4().hex}",
        "type": type,
        "occurred_at": "2026-11-23T09:30:00Z",
        "lead": {**CLINICIAN, "email": email, "npi": npi_for(email)},
        "properties": {
            "asset_id": "CVT-EVD-200",
            "title": "CORVA-HF evidence brochure",
            "topics": ["evidence"],
        },
    }
    payload.update(extra)
    return payload
