"""Only tags, ids and numbers reach a lead's workflow history, even decrypted: every free-text
property and every identifier stays at intake, whatever event type carries it."""

from __future__ import annotations

import base64
from typing import Any

from models.events import EventType, LeadEvent, LeadEventIn, workflow_properties
from starter.payload_codec import decode_history
from tests.helpers.factories import event_payload
from tests.helpers.journey import NewJourney

FREE_TEXT = "Please call my office manager Janelle Quimby on 555-0100"
QUERY_EMAIL = "dr.x@clinic.example"
REP = "Jordan Whitfield-Ames"
EVIDENCE = "double opt-in confirmed by dr.x@clinic.example from 203.0.113.7"
PERSONAL = [FREE_TEXT, "Janelle", "555-0100", QUERY_EMAIL, REP, EVIDENCE]

# Every free property a service may send, on every event type.
FREE_PROPERTIES: dict[str, Any] = {
    "comment": FREE_TEXT,
    "text": FREE_TEXT,
    "question": FREE_TEXT,
    "notes": FREE_TEXT,
    "message": FREE_TEXT,
    "reason": FREE_TEXT,
    "fields": {"best_time": FREE_TEXT, "assistant": "Janelle Quimby"},
    "by": REP,
    "evidence": EVIDENCE,
    "url": f"https://hcp.corvanta.example/moa?email={QUERY_EMAIL}#555-0100",
}


def _decoded(history: dict[str, Any]) -> str:
    """Every payload of a history, base64-decoded, as one text."""
    texts: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            data = node.get("data")
            if isinstance(data, str) and "metadata" in node:
                texts.append(base64.b64decode(data).decode("utf-8", "replace"))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(history)
    return "\n".join(texts)


def test_the_workflow_gets_no_free_text_and_no_query_strings() -> None:
    for event_type in EventType:
        payload = event_payload(type=event_type.value)
        payload["properties"] |= FREE_PROPERTIES | {"topics": ["evidence"], "product": "Corvanta"}
        carried = LeadEvent.from_intake(LeadEventIn.model_validate(payload))
        assert carried.properties == {
            "asset_id": "CVT-EVD-200",
            "title": "CORVA-HF evidence brochure",
            "topics": ["evidence"],
            "product": "Corvanta",
            "url": "https://hcp.corvanta.example/moa",
        }, event_type
    assert workflow_properties({"url": 42}) == {"url": 42}  # not a string: the checks refuse it


async def test_a_journey_with_personal_data_everywhere_keeps_it_out_of_history(
    new_journey: NewJourney,
) -> None:
    lead = new_journey(first_name="Zebulon", last_name="Quackenbush")
    sent = [t for t in EventType if t not in {EventType.UNSUBSCRIBED, EventType.DISQUALIFIED}]
    for event_type in sent:
        await lead.event(event_type.value, **FREE_PROPERTIES)
    history = await lead.handle.fetch_history()
    codec = lead.env.client.data_converter.payload_codec
    assert codec is not None  # the history is encrypted: read it as Leadflow can
    await decode_history(history, codec)
    text = _decoded(history.to_json_dict())
    assert "page_viewed" in text  # the payloads were read
    identifiers = [lead.profile["email"], lead.profile["npi"], "Zebulon", "Quackenbush"]
    for personal in [*PERSONAL, *identifiers]:
        assert personal not in text, personal
