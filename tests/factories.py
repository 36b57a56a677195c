"""Event payloads as services send them."""

from __future__ import annotations

import uuid
from typing import Any

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
        "lead": {**CLINICIAN, "email": email},
        "properties": {
            "asset_id": "CVT-EVD-200",
            "title": "CORVA-HF evidence brochure",
            "topics": ["evidence"],
        },
    }
    payload.update(extra)
    return payload
