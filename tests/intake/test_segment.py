"""Segment-spec intake: the conversion, and the real Segment client against a served API."""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import segment.analytics as analytics
import uvicorn
from segment.analytics.request import APIError
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from temporalio.client import Client

from models.events import EventType
from models.program import Program, load_program
from models.segment_mapping import SegmentMapping
from models.tables import SegmentUnmappedEvent
from starter.api import create_app
from starter.auth import KeyRing
from starter.intake import MAX_BODY_BYTES
from starter.intake.segment import (
    Converted,
    RequestRefused,
    Skipped,
    convert,
    decode_body,
    header_key,
)
from starter.ports import free_port
from starter.settings import SAMPLE_PROGRAM, Settings
from tests.helpers.factories import npi_for
from tests.helpers.polling import DEADLINE_SECONDS, eventually
from tests.helpers.programs import ProgramFactory

WRITE_KEY = "test-segment-write-key"
READ_ONLY_KEY = "test-segment-read-only-key"
EMAIL = "a.rivera@northside-cardio.example"
MAPPING = SegmentMapping(events={"Content Downloaded": EventType.CONTENT_DOWNLOADED})


def _converted(message: dict[str, Any], mapping: SegmentMapping = MAPPING) -> Converted:
    converted = convert(message, mapping)
    assert isinstance(converted, Converted), converted
    return converted


def _skipped(message: dict[str, Any], mapping: SegmentMapping = MAPPING) -> Skipped:
    skipped = convert(message, mapping, prefix="batch.2.")
    assert isinstance(skipped, Skipped), skipped
    return skipped


# --- Conversion ------------------------------------------------------------------------------


def test_identify_traits_become_the_lead_object() -> None:
    converted = _converted(
        {
            "type": "identify",
            "messageId": "m-1",
            "userId": "u-1",
            "timestamp": "2026-11-23T09:30:00Z",
            "traits": {
                "email": EMAIL,
                "npi": 1234567893,
                "crmId": "CRM-7",
                "firstName": "Ana",
                "lastName": "Rivera",
                "role": "physician",
                "specialty": "cardiology",
                "company": {"name": "Northside Cardiology"},
                "org_type": "hospital",
                "address": {"country": "US", "postalCode": "60611"},
            },
            "context": {"timezone": "America/Chicago", "traits": {"email": "old@x.example"}},
        }
    )
    assert converted.envelope == {
        "event_id": "m-1",
        "type": "identify",
        "occurred_at": "2026-11-23T09:30:00Z",
        "lead": {
            "email": EMAIL,  # the call's own traits win over context.traits
            "npi": "1234567893",
            "crm_id": "CRM-7",
            "first_name": "Ana",
            "last_name": "Rivera",
            "role": "physician",
            "specialty": "cardiology",
            "organization": "Northside Cardiology",
            "org_type": "hospital",
            "country": "US",
            "postal_code": "60611",
            "time_zone": "America/Chicago",
        },
        "properties": {},
    }
    assert converted.source_ids == ["user:u-1"]


def test_track_names_map_by_the_program_table_ignoring_case_and_spaces() -> None:
    properties = {"asset_id": "CVT-EVD-200", "topics": ["evidence"]}
    message = {
        "type": "track",
        "event": "  content   DOWNLOADED ",
        "messageId": "m-2",
        "anonymousId": "anon-9",
        "originalTimestamp": "2026-11-23T09:31:00+01:00",
        "properties": properties,
        "context": {"traits": {"email": EMAIL}},
    }
    converted = _converted(message)
    assert converted.envelope["type"] == "content_downloaded"
    assert converted.envelope["occurred_at"] == "2026-11-23T09:31:00+01:00"
    assert converted.envelope["properties"] == properties
    assert converted.envelope["lead"] == {"email": EMAIL}
    assert converted.source_ids == ["anon:anon-9"]
    # A Leadflow type's own name needs no table entry.
    snake = _converted({**message, "event": "Meeting_Requested"}, SegmentMapping())
    assert snake.envelope["type"] == "meeting_requested"


def test_page_is_a_page_view_with_url_and_title() -> None:
    converted = _converted(
        {
            "type": "page",
            "name": "CORVA-HF results",
            "messageId": "m-3",
            "userId": "u-1",
            "properties": {"path": "/corva-hf"},
            "context": {"page": {"url": "https://hcp.corvanta.example/corva-hf"}},
        }
    )
    assert converted.envelope["type"] == "page_viewed"
    assert converted.envelope["properties"] == {
        "path": "/corva-hf",
        "url": "https://hcp.corvanta.example/corva-hf",
        "title": "CORVA-HF results",
    }


def test_timestamp_falls_back_to_sent_at_then_receipt() -> None:
    message = {"type": "identify", "messageId": "m", "traits": {"email": EMAIL}}
    sent = convert(message, MAPPING, sent_at="2026-11-23T10:00:00Z")
    assert isinstance(sent, Converted) and sent.envelope["occurred_at"] == "2026-11-23T10:00:00Z"
    now = datetime(2026, 11, 23, 11, tzinfo=UTC)
    received = convert(message, MAPPING, received_at=now)
    assert isinstance(received, Converted)
    assert received.envelope["occurred_at"] == now.isoformat()


def test_a_message_without_message_id_gets_a_stable_one() -> None:
    message = {"type": "identify", "userId": "u-1", "traits": {"email": EMAIL}}
    first, again = _converted(message), _converted(dict(message))
    assert first.envelope["event_id"] == again.envelope["event_id"]
    assert first.envelope["event_id"].startswith("segment-")
    long = _converted({**message, "messageId": "m" * 300}).envelope["event_id"]
    assert long.startswith("segment-") and len(long) <= 200
    assert long == _converted({**message, "messageId": "m" * 300}).envelope["event_id"]


def test_unmapped_track_names_are_rejected_or_recorded_as_the_program_says() -> None:
    message = {"type": "track", "event": "Video Played", "messageId": "m-4", "userId": "u"}
    rejected = _skipped(message)
    assert rejected.result.status == "rejected" and rejected.record_name is None
    [problem] = rejected.result.errors  # type: ignore[union-attr]
    assert problem["field"] == "batch.2.event" and "'Video Played'" in problem["message"]

    recorded = _skipped(message, SegmentMapping(unmapped="record"))
    assert recorded.result.status == "ignored" and recorded.record_name == "Video Played"
    assert "'Video Played'" in recorded.result.reason  # type: ignore[union-attr]


def test_calls_without_a_lead_event_are_ignored_and_unknown_ones_rejected() -> None:
    group = _skipped({"type": "group", "groupId": "g", "messageId": "m-5"})
    assert group.result.status == "ignored"
    odd = _skipped({"type": "launch", "messageId": "m-6"})
    assert odd.result.status == "rejected"
    assert odd.result.errors[0]["field"] == "batch.2.type"  # type: ignore[union-attr]
    nameless = _skipped({"type": "track", "messageId": "m-7"})
    assert nameless.result.errors[0]["field"] == "batch.2.event"  # type: ignore[union-attr]


def test_mapping_refuses_names_that_collide_once_normalised() -> None:
    with pytest.raises(ValueError, match="two types"):
        SegmentMapping.model_validate(
            {"events": {"Demo Requested": "demo_requested", "demo  requested": "info_requested"}}
        )
    with pytest.raises(ValueError, match="unmapped"):
        SegmentMapping.model_validate({"unmapped": "keep"})


def test_programs_without_a_segment_section_still_load(make_program: ProgramFactory) -> None:
    def drop(raw: dict[str, Any]) -> None:
        raw.pop("segment")

    program: Program = load_program(make_program(change=drop))
    assert program.segment == SegmentMapping()
    sample = load_program(SAMPLE_PROGRAM).segment
    assert sample.type_for("Meeting Requested") is EventType.MEETING_REQUESTED
    assert sample.unmapped == "record"


def test_gzip_bodies_are_inflated_within_the_limit() -> None:
    body = json.dumps({"batch": []}).encode()
    assert decode_body(gzip.compress(body), "gzip") == body
    assert decode_body(body, None) == body
    bomb = gzip.compress(b"0" * (20 * MAX_BODY_BYTES))  # ~20 KB that inflates to 20 MB
    cases = [
        (bomb, "gzip", 413),
        (b"not gzip", "gzip", 400),
        (gzip.compress(body)[:-12], "gzip", 400),
        (body, "br", 415),
    ]
    for raw, encoding, status in cases:
        with pytest.raises(RequestRefused) as refused:
            decode_body(raw, encoding)
        assert refused.value.status == status, refused.value.message


def test_the_write_key_is_the_basic_user() -> None:
    assert header_key("Basic " + _basic(WRITE_KEY)) == WRITE_KEY
    assert header_key(f"Bearer {WRITE_KEY}") == WRITE_KEY
    assert header_key("Basic !!!") is None and header_key(None) is None


def _basic(user: str) -> str:
    return base64.b64encode(f"{user}:".encode()).decode()


# --- The real client against a served API ----------------------------------------------------


def _keyring() -> KeyRing:
    ring = KeyRing()
    ring.add("web-analytics", WRITE_KEY, ("events:write", "leads:read"))
    ring.add("dashboard", READ_ONLY_KEY, ("leads:read",))
    return ring


@pytest.fixture
async def served_api(dev_client: Client, settings: Settings, db: Engine) -> AsyncIterator[str]:
    """The API on a real port (the Segment client speaks HTTP), in this test's event loop."""
    app = create_app(settings, client=dev_client, db=db, keyring=_keyring())
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    loop = asyncio.get_running_loop()
    end = loop.time() + DEADLINE_SECONDS
    while not server.started:
        if task.done() or loop.time() > end:
            server.should_exit = True
            pytest.fail("the API did not start")
        await asyncio.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task


def _segment_client(api: str, write_key: str) -> analytics.Client:
    return analytics.Client(
        write_key, host=f"{api}/segment", sync_mode=True, gzip=True, max_retries=0
    )


@pytest.mark.devserver
@pytest.mark.usefixtures("worker")
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_segment_client_delivers_identify_track_and_page_to_the_lead(
    served_api: str,
) -> None:
    segment = _segment_client(served_api, WRITE_KEY)
    traits = {
        "email": EMAIL,
        "npi": npi_for(EMAIL),
        "firstName": "Ana",
        "lastName": "Rivera",
        "role": "physician",
        "specialty": "cardiology",
        "address": {"country": "US", "postalCode": "60611"},
    }
    properties = {"asset_id": "CVT-EVD-200", "title": "CORVA-HF brochure", "topics": ["evidence"]}
    page = {"url": "https://hcp.corvanta.example/corva-hf"}
    async with httpx.AsyncClient(
        base_url=served_api, headers={"Authorization": f"Bearer {WRITE_KEY}"}
    ) as api:
        await asyncio.to_thread(segment.identify, "u-ana", traits)
        # Later calls carry only the userId, as Segment clients send them.
        await asyncio.to_thread(segment.track, "u-ana", "Content Downloaded", properties)
        await asyncio.to_thread(segment.page, "u-ana", None, "CORVA-HF results", page)

        [lead_id] = (await api.get("/v1/leads", params={"email": EMAIL})).json()["lead_ids"]

        async def recorded() -> list[str] | None:
            response = await api.get(f"/v1/leads/{lead_id}/decisions")
            if response.status_code != 200:
                return None
            log = response.json()["decisions"]
            types = [d["inputs"]["type"] for d in log if d["rule_id"] == "event.recorded"]
            return types if len(types) == 3 else None

        assert await eventually(recorded) == ["identify", "content_downloaded", "page_viewed"]
        state = (await api.get(f"/v1/leads/{lead_id}")).json()
    facts = state["facts"]  # traits in Segment's shape reached the lead's profile
    assert (facts["specialty"], facts["country"], facts["postal_code"]) == (
        "cardiology",
        "US",
        "60611",
    )
    assert "evidence" in state["topics_seen"]


@pytest.mark.devserver
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_wrong_write_key_is_refused_and_the_client_reports_it(served_api: str) -> None:
    for key, status, words in [("not-a-key", 401, "write key"), (READ_ONLY_KEY, 403, "scope")]:
        client = _segment_client(served_api, key)
        with pytest.raises(APIError) as refused:
            await asyncio.to_thread(client.track, "u-1", "Content Downloaded", {})
        assert refused.value.status == status
        assert words in refused.value.message
    async with httpx.AsyncClient(base_url=served_api) as http:
        anonymous = await http.post("/segment/v1/batch", json={"batch": []})
    assert anonymous.status_code == 401 and "writeKey" in anonymous.json()["message"]


@pytest.mark.devserver
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_batch_answers_each_message_and_keeps_unmapped_names(
    served_api: str, db: Engine
) -> None:
    good = {
        "type": "identify",
        "messageId": "seg-good-1",
        "userId": "u-good",
        "traits": {"email": "one@clinic.example"},
    }
    batch = [
        good,
        {"type": "track", "event": "Video Played", "messageId": "seg-unmapped", "userId": "x"},
        {"type": "track", "event": "Demo Requested", "messageId": "seg-nobody", "userId": "new"},
        {**good, "messageId": "seg-bad-time", "timestamp": "yesterday"},
        {"type": "group", "groupId": "g-1", "messageId": "seg-group", "userId": "u-good"},
    ]
    async with httpx.AsyncClient(base_url=served_api) as http:
        response = await http.post(
            "/segment/v1/batch",
            content=gzip.compress(json.dumps({"batch": batch, "writeKey": WRITE_KEY}).encode()),
            headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
        )
        again = await http.post(
            "/segment/v1/identify", json=good, auth=httpx.BasicAuth(WRITE_KEY, "")
        )
        unparseable = await http.post(
            "/segment/v1/batch", content=b"{nope", auth=httpx.BasicAuth(WRITE_KEY, "")
        )
        bomb = await http.post(
            "/segment/v1/batch",
            content=gzip.compress(b" " * (2 * MAX_BODY_BYTES)),
            headers={"Content-Encoding": "gzip"},
            auth=httpx.BasicAuth(WRITE_KEY, ""),
        )
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert response.json()["success"] is True
    assert [r["status"] for r in results] == [
        "accepted",
        "ignored",
        "rejected",
        "rejected",
        "ignored",
    ]
    assert "'Video Played'" in results[1]["reason"]
    assert [e["field"] for e in results[2]["errors"]] == ["batch.2.traits.email"]
    assert [e["field"] for e in results[3]["errors"]] == ["batch.3.timestamp"]
    [result] = again.json()["results"]
    assert (result["status"], result["lead_id"]) == ("duplicate", results[0]["lead_id"])
    assert unparseable.status_code == 400 and "JSON" in unparseable.json()["message"]
    assert bomb.status_code == 413
    with Session(db) as session:
        unmapped = session.exec(select(SegmentUnmappedEvent)).all()
    assert [(u.message_id, u.event_name) for u in unmapped] == [("seg-unmapped", "Video Played")]
