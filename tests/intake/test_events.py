import pytest
from pydantic import ValidationError

from models.events import LeadEvent, LeadEventIn
from starter.intake import EventPayloadError, parse_events
from tests.helpers.factories import event_payload


def _fields(body: bytes) -> list[str]:
    with pytest.raises(EventPayloadError) as err:
        parse_events(body)
    return [problem["field"] for problem in err.value.problems]


def test_valid_single_event_and_batch() -> None:
    import json

    events, is_batch = parse_events(json.dumps(event_payload()).encode())
    assert (len(events), is_batch) == (1, False)
    events, is_batch = parse_events(
        json.dumps({"events": [event_payload(), event_payload()]}).encode()
    )
    assert (len(events), is_batch) == (2, True)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda p: p.pop("type"), "type"),
        (lambda p: p.update(type="brochure_downloaded"), "type"),
        (lambda p: p.update(occurred_at="yesterday"), "occurred_at"),
        (lambda p: p.update(occurred_at="2026-11-23T09:30:00"), "occurred_at"),  # no zone
        (lambda p: p.pop("event_id"), "event_id"),
        (lambda p: p["lead"].update(npi="12345"), "lead.npi"),
        (lambda p: p["lead"].update(email="not-an-email"), "lead.email"),
        (lambda p: p.update(lead={"role": "physician"}), "lead"),
        (lambda p: p.update(properties={"topics": 7}), "properties.topics"),
        (
            lambda p: p.update(type="email_bounced", properties={"bounce_type": "x"}),
            "properties.bounce_type",
        ),
    ],
)
def test_bad_events_name_the_field(change, field) -> None:  # type: ignore[no-untyped-def]
    import json

    payload = event_payload()
    change(payload)
    assert field in _fields(json.dumps(payload).encode())


def test_non_json_and_non_object_bodies() -> None:
    assert _fields(b"{not json") == ["body"]
    assert _fields(b"[1, 2]") == ["body"]


def test_batch_errors_name_the_event_index() -> None:
    import json

    bad = event_payload()
    bad.pop("type")
    assert "events.1.type" in _fields(json.dumps({"events": [event_payload(), bad]}).encode())


def test_workflow_event_carries_no_identifiers() -> None:
    event = LeadEventIn.model_validate(event_payload())
    carried = LeadEvent.from_intake(event).model_dump_json()
    for identifier in ("a.rivera@northside-cardio.example", "Ana", "Rivera"):
        assert identifier not in carried
    assert "cardiology" in carried


def test_email_is_normalised() -> None:
    event = LeadEventIn.model_validate(event_payload(email="A.Rivera@Northside-Cardio.EXAMPLE"))
    assert event.lead.email == "a.rivera@northside-cardio.example"
    with pytest.raises(ValidationError, match="lead.email"):
        LeadEventIn.model_validate(event_payload(email=" "))
