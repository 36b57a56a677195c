"""Identity resolution and data stewardship (DOMAIN 20) through the real API, on SQLite and
PostgreSQL, with events delivered to the real Temporal dev server."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from leadflow_domain.consent import consent_records, effective_consent
from models.program import load_program
from models.tables import ConsentRecord, IdentityReview, Lead, LeadMerge
from starter.auth import KeyRing
from starter.settings import Settings
from tests.helpers.api import READ_ONLY_KEY, ops_keyring
from tests.helpers.factories import event_payload, npi_for

pytestmark = pytest.mark.devserver

STEWARD_KEY = "test-steward-key"
STEWARD_KEY_NAME = "steward-desk"


@pytest.fixture
def keyring() -> KeyRing:
    ring = ops_keyring()
    ring.add(STEWARD_KEY_NAME, STEWARD_KEY, ("leads:read", "compliance:act"))
    return ring


def _as(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _person(**identifiers: str) -> dict[str, Any]:
    """A lead object with only the identifiers given (the factory adds an NPI otherwise)."""
    lead = {
        "first_name": "Ana",
        "last_name": "Rivera",
        "organization": "Northside Cardiology",
        "role": "physician",
        "country": "US",
        "postal_code": "60611",
    }
    return {**lead, **identifiers}


def _event(lead: dict[str, Any], type: str = "content_downloaded", **extra: Any) -> dict[str, Any]:
    payload = event_payload(type=type, **extra)
    payload["lead"] = lead
    return payload


def _consent(lead: dict[str, Any], type: str, purpose: str = "promotional") -> dict[str, Any]:
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    return _event(
        lead,
        type=type,
        occurred_at=an_hour_ago.isoformat(),
        properties={"channel": "email", "purpose": purpose, "source": "form"},
    )


async def _send(api: httpx.AsyncClient, payload: dict[str, Any]) -> httpx.Response:
    return await api.post(
        "/v1/events",
        content=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
    )


async def _lead_of(api: httpx.AsyncClient, payload: dict[str, Any]) -> str:
    response = await _send(api, payload)
    assert response.status_code == 202, response.text
    return str(response.json()["lead_id"])


async def _found(api: httpx.AsyncClient, **identifier: str) -> list[str]:
    response = await api.get("/v1/leads", params=identifier)
    assert response.status_code == 200, response.text
    return list(response.json()["lead_ids"])


async def _reviews(api: httpx.AsyncClient, status: str | None = None) -> list[dict[str, Any]]:
    params = {"status": status} if status else {}
    response = await api.get("/v1/identity/reviews", params=params)
    assert response.status_code == 200, response.text
    return list(response.json())


async def _decide(api: httpx.AsyncClient, review_id: str, decision: str) -> httpx.Response:
    return await api.post(
        f"/v1/identity/reviews/{review_id}/decide",
        json={"decision": decision, "steward": "Dana Okafor", "note": "checked the registry"},
        headers=_as(STEWARD_KEY),
    )


async def test_same_npi_with_another_email_is_the_same_lead(api: httpx.AsyncClient) -> None:
    npi = npi_for("ana")
    first = await _lead_of(api, _event(_person(npi=npi, email="ana@northside.example")))
    second = await _lead_of(api, _event(_person(npi=npi, email="ana.rivera@home.example")))

    assert first == second
    assert await _found(api, npi=npi) == [first]
    assert await _reviews(api) == []


async def test_people_writing_from_a_shared_inbox_stay_two_leads(api: httpx.AsyncClient) -> None:
    inbox = "info@northside.example"
    ana = await _lead_of(api, _event(_person(npi=npi_for("ana"), email=inbox)))
    ben = _person(npi=npi_for("ben"), email=inbox, first_name="Ben", last_name="Okoro")
    other = await _lead_of(api, _event(ben))

    assert ana != other
    assert await _found(api, npi=npi_for("ben")) == [other]
    assert await _reviews(api) == []


async def test_name_and_institution_alone_open_a_review_and_never_merge(
    api: httpx.AsyncClient,
) -> None:
    older = await _lead_of(api, _event(_person(email="ana@northside.example")))
    same_name = _person(
        email="ana.rivera@home.example",
        first_name="ÁNA ",
        last_name="rivéra",
        organization="  northside   CARDIOLOGY",
    )
    newer = await _lead_of(api, _event(same_name))
    again = await _lead_of(api, _event(same_name))  # a second event opens nothing new

    assert older != newer == again
    [review] = await _reviews(api, "open")
    assert (review["lead_id"], review["candidate_lead_id"]) == (newer, older)
    assert review["reason"] == "same name and institution" and review["kind"] == "weak_match"
    assert await _found(api, email="ana@northside.example") == [older]
    assert await _found(api, email="ana.rivera@home.example") == [newer]
    other_site = _person(email="ana@southside.example", organization="Southside Clinic")
    assert await _lead_of(api, _event(other_site)) not in (older, newer)
    assert len(await _reviews(api)) == 1


async def test_concurrent_first_events_for_one_new_person_make_one_lead(
    api: httpx.AsyncClient, db: Engine
) -> None:
    person = _person(email="first.contact@northside.example", npi=npi_for("first-contact"))
    responses = await asyncio.gather(*(_send(api, _event(person)) for _ in range(20)))

    assert [r.status_code for r in responses] == [202] * 20, [r.text for r in responses]
    assert len({r.json()["lead_id"] for r in responses}) == 1
    with Session(db) as session:
        assert len(session.exec(select(Lead)).all()) == 1
    assert await _reviews(api) == []


async def test_identifiers_of_two_leads_are_refused_and_go_to_a_steward(
    api: httpx.AsyncClient,
) -> None:
    npi = npi_for("ana")
    by_npi = await _lead_of(api, _event(_person(npi=npi)))
    by_email = await _lead_of(api, _event(_person(email="ana@northside.example")))
    mixed = _person(npi=npi, email="ana@northside.example")

    for _ in range(2):
        refused = await _send(api, _event(mixed))
        assert refused.status_code == 409
        assert "different leads" in refused.json()["message"]

    conflicts = [r for r in await _reviews(api, "open") if r["kind"] == "conflict"]
    assert [(r["lead_id"], r["candidate_lead_id"]) for r in conflicts] == [(by_npi, by_email)]


async def test_steward_merge_moves_identifiers_combines_consent_and_is_logged(
    api: httpx.AsyncClient, db: Engine, settings: Settings
) -> None:
    granted = _person(email="ana@northside.example")
    withdrew = _person(email="a.rivera@home.example", crm_id="CRM-0077")
    survivor = await _lead_of(api, _consent(granted, "consent_granted"))
    merged = await _lead_of(api, _consent(withdrew, "consent_withdrawn"))
    await _lead_of(api, _consent(withdrew, "consent_granted", purpose="events"))
    [review] = await _reviews(api, "open")

    decided = await _decide(api, review["review_id"], "merge")

    assert decided.status_code == 200, decided.text
    result = decided.json()
    assert (result["survivor_lead_id"], result["merged_lead_id"]) == (survivor, merged)
    assert (result["status"], result["decided_by"]) == ("merged", "Dana Okafor")
    assert result["actor"] == STEWARD_KEY_NAME
    assert result["moved"]["identifiers"] == ["crm_id"]  # the survivor's email is kept
    rules = load_program(settings.program).consent
    now = datetime.now(UTC)
    with Session(db) as session:
        records = consent_records(session, survivor)
        promotional = effective_consent(records, "email", "promotional", "US", now, rules)
        events = effective_consent(records, "email", "events", "US", now, rules)
        merge = session.exec(select(LeadMerge)).one()
        stored = session.get(Lead, survivor)
        originals = session.exec(select(ConsentRecord).where(ConsentRecord.source == "form"))
        assert sorted(r.status for r in originals) == ["granted", "granted", "withdrawn"]
    assert not promotional.allows_sending and promotional.status == "withdrawn"
    assert events.status != "granted"  # the merged person's grant does not carry over
    assert stored is not None and stored.crm_id == "CRM-0077"
    assert stored.email == "ana@northside.example"
    assert (merge.survivor_lead_id, merge.merged_lead_id) == (survivor, merged)
    assert (merge.steward, merge.actor, merge.review_id) == (
        "Dana Okafor",
        STEWARD_KEY_NAME,
        review["review_id"],
    )
    assert json.loads(merge.moved)["identifiers"] == ["crm_id"]

    later = await _lead_of(api, _event(_person(email="a.rivera@home.example")))
    assert later == survivor
    assert await _found(api, crm_id="CRM-0077") == [survivor]
    assert await _found(api, email="a.rivera@home.example") == [survivor]
    assert (await _decide(api, review["review_id"], "distinct")).status_code == 409
    assert [r["status"] for r in await _reviews(api)] == ["merged"]


async def test_steward_keeps_two_leads_distinct(api: httpx.AsyncClient, db: Engine) -> None:
    older = await _lead_of(api, _event(_person(email="ana@northside.example")))
    newer = await _lead_of(api, _event(_person(email="ana.r@northside.example")))
    [review] = await _reviews(api, "open")

    decided = await _decide(api, review["review_id"], "distinct")

    assert decided.status_code == 200, decided.text
    assert decided.json()["status"] == "distinct" and decided.json()["merge_id"] is None
    assert [r["review_id"] for r in await _reviews(api, "distinct")] == [review["review_id"]]
    assert await _reviews(api, "open") == []
    assert await _found(api, email="ana.r@northside.example") == [newer] != [older]
    with Session(db) as session:
        assert session.exec(select(LeadMerge)).all() == []
        review_row = session.get(IdentityReview, review["review_id"])
        assert review_row is not None and review_row.actor == STEWARD_KEY_NAME


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_steward_endpoints_need_the_right_key(api: httpx.AsyncClient) -> None:
    listing = "/v1/identity/reviews"
    deciding = f"{listing}/idr_unknown/decide"
    body = {"decision": "merge", "steward": "Dana Okafor"}

    assert (await api.get(listing, headers={"Authorization": ""})).status_code == 401
    assert (await api.get(listing, headers=_as("nope"))).status_code == 401
    assert (await api.get(listing, headers=_as(READ_ONLY_KEY))).status_code == 200
    assert (await api.post(deciding, json=body, headers={"Authorization": ""})).status_code == 401
    forbidden = await api.post(deciding, json=body, headers=_as(READ_ONLY_KEY))
    assert forbidden.status_code == 403 and "compliance:act" in forbidden.json()["detail"]
    missing = await api.post(deciding, json=body, headers=_as(STEWARD_KEY))
    assert missing.status_code == 404
    bad = await api.post(
        deciding, json={"decision": "maybe", "steward": ""}, headers=_as(STEWARD_KEY)
    )
    assert bad.status_code == 422
    assert {"body.decision", "body.steward"} <= {e["field"] for e in bad.json()["errors"]}
    too_long = deciding.rsplit("/", 2)[0] + "/" + "r" * 41 + "/decide"
    long_id = await api.post(too_long, json=body, headers=_as(STEWARD_KEY))
    assert long_id.status_code == 422 and "review_id" in long_id.json()["message"]
    bad_status = await api.get(listing, params={"status": "closed"}, headers=_as(STEWARD_KEY))
    assert bad_status.status_code == 422 and "status" in bad_status.json()["message"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_an_erased_lead_keeps_no_name_to_match_on(api: httpx.AsyncClient, db: Engine) -> None:
    erased = await _lead_of(api, _event(_person(email="ana@northside.example")))
    response = await api.post(f"/v1/leads/{erased}/erase", headers=_as(STEWARD_KEY))
    assert response.status_code == 200, response.text

    await _lead_of(api, _event(_person(email="ana.rivera@home.example")))

    assert await _reviews(api) == []
    with Session(db) as session:
        row = session.get(Lead, erased)
        assert row is not None and (row.organization, row.name_key, row.org_key) == (None,) * 3
