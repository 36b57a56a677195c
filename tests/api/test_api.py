"""The HTTP API with a real app on the dev server: validation, auth, and the vertical slice."""

import asyncio
import json
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, select
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner

from leadflow_domain.consent import consent_records, suppression_reason
from leadflow_domain.payload_crypto import DataKeyUnavailable
from leadflow_domain.tokens import unsubscribe_token
from models.lead_state import lead_workflow_id
from models.tables import Lead, ScreeningCase
from starter.api import create_app
from starter.cli import app as cli_app
from starter.payload_codec import ENCODING, history_payloads
from starter.settings import Settings
from starter.smtp_sink import SmtpSink
from tests.helpers.api import OPS_KEY, READ_ONLY_KEY, api_client, ops_keyring
from tests.helpers.factories import event_payload
from tests.helpers.polling import eventually, wait_for_messages
from tests.helpers.worker import running_worker
from workflows.lead import LeadWorkflow

pytestmark = pytest.mark.devserver


async def _post(api: httpx.AsyncClient, body: Any, **kwargs: Any) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Content-Type": "application/json", **kwargs.pop("headers", {})}
    return await api.post("/v1/events", content=content, headers=headers, **kwargs)


def _without(field: str) -> dict[str, Any]:
    payload = event_payload()
    payload.pop(field)
    return payload


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_malformed_events_get_422_naming_the_field_and_start_nothing(
    api: httpx.AsyncClient, env: WorkflowEnvironment, settings: Settings, db: Engine
) -> None:
    cases: list[tuple[bytes | dict[str, Any], str]] = [
        (_without("type"), "type"),
        (event_payload(type="brochure_downloaded"), "type"),
        (event_payload(occurred_at="23/11/2026"), "occurred_at"),
        (b"this is not json", "body"),
    ]
    for body, field in cases:
        response = await _post(api, body)
        assert response.status_code == 422, response.text
        assert field in [e["field"] for e in response.json()["errors"]]
        assert field in response.json()["message"]

    with Session(db) as session:
        assert session.exec(select(Lead)).all() == []
    accepted = await _post(api, event_payload())
    assert accepted.status_code == 202
    only = lead_workflow_id(accepted.json()["lead_id"])

    async def listed() -> list[str]:
        query = f"TaskQueue = '{settings.task_queue}'"
        return [wf.id async for wf in env.client.list_workflows(query)]

    assert await eventually(listed) == [only]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_auth_and_content_type(api: httpx.AsyncClient) -> None:
    no_key = await _post(api, event_payload(), headers={"Authorization": ""})
    assert no_key.status_code == 401 and "API key" in no_key.json()["detail"]
    wrong = await _post(api, event_payload(), headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    read_only = await _post(
        api, event_payload(), headers={"Authorization": f"Bearer {READ_ONLY_KEY}"}
    )
    assert read_only.status_code == 403 and "events:write" in read_only.json()["detail"]
    text = await api.post("/v1/events", content=b"hello", headers={"Content-Type": "text/plain"})
    assert text.status_code == 415
    huge = event_payload(properties={"comment": "x" * 1_100_000})
    assert (await _post(api, huge)).status_code == 413
    assert (await api.get("/health")).json()["status"] == "ok"
    assert (await api.get("/v1/leads/ld_unknown")).status_code == 404


@pytest.mark.usefixtures("worker")
async def test_vertical_slice_event_to_email_outbox_and_history(
    api: httpx.AsyncClient, env: WorkflowEnvironment, smtp_server: SmtpSink
) -> None:
    response = await _post(api, event_payload())
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["status"] == "accepted" and body["lead_id"].startswith("ld_")
    lead_id = body["lead_id"]

    [email] = await wait_for_messages(smtp_server, 1)

    async def outbox() -> list[dict[str, Any]]:
        return (await api.get("/v1/outbox", params={"lead_id": lead_id})).json()  # type: ignore[no-any-return]

    [sent] = await eventually(outbox)

    async def recorded() -> list[dict[str, Any]] | None:
        log = (await api.get(f"/v1/leads/{lead_id}/decisions")).json()["decisions"]
        return log if "touch.sent" in [d["rule_id"] for d in log] else None

    decisions = await eventually(recorded)  # the workflow records the send just after it
    state = (await api.get(f"/v1/leads/{lead_id}")).json()
    handle = env.client.get_workflow_handle_for(LeadWorkflow.run, lead_workflow_id(lead_id))
    history = await handle.fetch_history()

    assert email["To"] == "a.rivera@northside-cardio.example"
    assert (sent["asset_id"], sent["asset_version"], sent["status"]) == (
        "CVT-EVD-210",
        "2.0",
        "sent",
    )
    assert sent["message_id"] == email["Message-ID"]
    assert state["stage"] == "nurturing"
    assert [d["seq"] for d in decisions] == list(range(1, len(decisions) + 1))
    scheduled = [
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    ]
    assert scheduled == ["load_program", "load_program", "send_touch"]  # reloaded at send time
    assert "a.rivera" not in history.to_json()  # the history carries no email address


SALES_KEY = "test-sales-key"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_ops_and_sales_see_and_steer_a_lead(
    env: WorkflowEnvironment,
    settings: Settings,
    db: Engine,
    smtp_server: SmtpSink,
) -> None:
    ring = ops_keyring()
    ring.add("rep.jordan", SALES_KEY, ("sales:act", "leads:read"))
    app = create_app(settings, client=env.client, db=db, keyring=ring)
    sales = {"Authorization": f"Bearer {SALES_KEY}"}
    async with (
        running_worker(env.client, settings, db, search_attributes=True),  # LeadStage listing
        api_client(app, OPS_KEY) as api,
    ):
        payload = event_payload()
        decided = await _post(api, payload, params={"wait": "true"})
        assert decided.status_code == 202, decided.text
        outcome = decided.json()["outcome"]
        lead_id = decided.json()["lead_id"]
        assert (outcome["stage_before"], outcome["stage_after"]) == ("new", "engaged")
        assert outcome["engagement_after"] > outcome["engagement_before"]
        assert outcome["track"] == "evidence-first"
        again = await _post(api, payload, params={"wait": "true"})  # a redelivery
        assert again.json() == decided.json()  # the server answers it from the first update

        await wait_for_messages(smtp_server, 1)

        async def nurturing() -> dict[str, Any] | None:
            state = (await api.get(f"/v1/leads/{lead_id}")).json()
            return state if state["stage"] == "nurturing" else None

        state = await eventually(nurturing)  # the workflow records the send just after it
        assert state["events_total"] == 1  # applied once
        assert state["track"] == "evidence-first"
        assert state["next_touch_at"] is not None
        sources = [item["source"] for item in state["score"]["fit_breakdown"]]
        assert "role=physician" in sources and "territory=US" in sources

        forbidden = await api.post(f"/v1/leads/{lead_id}/pause", json={"reason": "x"})
        assert forbidden.status_code == 403
        paused = await api.post(
            f"/v1/leads/{lead_id}/pause", json={"reason": "call booked by phone"}, headers=sales
        )
        assert paused.status_code == 202 and paused.json()["by"] == "rep.jordan"

        async def pause_logged() -> list[dict[str, Any]]:
            log = (await api.get(f"/v1/leads/{lead_id}/decisions")).json()["decisions"]
            return [d for d in log if d["rule_id"] == "manual.pause"]

        [pause] = await eventually(pause_logged)
        assert pause["inputs"] == {"by": "rep.jordan", "reason": "call booked by phone"}

        audit = (await api.get(f"/v1/leads/{lead_id}/audit")).json()
        assert audit["workflow_url"].endswith(f"/workflows/{lead_workflow_id(lead_id)}")
        kinds = {(e["kind"], e["actor"], e["what"]) for e in audit["entries"]}
        assert ("send", "leadflow", "sent CVT-EVD-210 v2.0") in kinds
        assert ("decision", "rep.jordan", "nurture paused until resumed") in kinds
        times = [e["at"] for e in audit["entries"]]
        assert times == sorted(times)
        csv_export = await api.get(f"/v1/leads/{lead_id}/audit", params={"format": "csv"})
        assert csv_export.headers["content-type"].startswith("text/csv")
        assert csv_export.text.splitlines()[0] == "at,kind,actor,what,detail"
        assert "rep.jordan" in csv_export.text

        async def listed_by_stage() -> list[str]:
            query = f"TaskQueue = '{settings.task_queue}' AND LeadStage = 'nurturing'"
            return [wf.id async for wf in env.client.list_workflows(query)]

        assert await eventually(listed_by_stage) == [lead_workflow_id(lead_id)]
        assert (await api.post(f"/v1/leads/{lead_id}/resume", headers=sales)).status_code == 202


@pytest.mark.usefixtures("worker")
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_unsubscribe_link_in_an_email_stops_promotional_email(
    api: httpx.AsyncClient, settings: Settings, db: Engine, smtp_server: SmtpSink
) -> None:
    lead_id = (await _post(api, event_payload())).json()["lead_id"]
    [email] = await wait_for_messages(smtp_server, 1)
    text = email.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    link = next(line.split(": ", 1)[1] for line in text.splitlines() if "Unsubscribe:" in line)
    assert link in email["List-Unsubscribe"]
    path = link.removeprefix(settings.resolved_public_url)

    page = await api.get(path, headers={"Authorization": ""})  # recipients have no key
    assert page.status_code == 200 and "<form" in page.text
    done = await api.post(path, headers={"Authorization": ""})
    assert done.status_code == 200 and "unsubscribed" in done.text
    forged = await api.post(path[:-3] + "xyz", headers={"Authorization": ""})
    assert forged.status_code == 400

    async def opted_out() -> dict[str, Any] | None:
        state = (await api.get(f"/v1/leads/{lead_id}")).json()
        return state if state["stage"] == "opted_out" else None

    state = await eventually(opted_out)
    await _post(api, event_payload(type="email_clicked", properties={"message_id": "x"}))
    after = await eventually(opted_out)

    assert "stop.opt_out" in state["stops"]
    assert after["next_touch_at"] is None  # a click no longer brings any touch
    with Session(db) as session:
        [record] = consent_records(session, lead_id)
    assert (record.status, record.source, record.channel) == (
        "withdrawn",
        "unsubscribe_link",
        "email",
    )
    assert len(smtp_server.messages) == 1


COMPLIANCE_KEY = "test-compliance-key"
SALES_KEY = "test-sales-key"


@pytest.mark.usefixtures("worker")
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_erasure_keeps_a_hashed_suppression_and_safety_records(
    env: WorkflowEnvironment,
    settings: Settings,
    db: Engine,
    smtp_server: SmtpSink,
) -> None:
    ring = ops_keyring()
    ring.add("privacy.office", COMPLIANCE_KEY, ("compliance:act",))
    app = create_app(settings, client=env.client, db=db, keyring=ring)
    email = "erase.me@clinic.example"
    async with api_client(app, OPS_KEY) as api:
        report = event_payload(
            email=email,
            type="form_submitted",
            properties={"form": "contact", "comment": "my patient fainted after Corvanta"},
        )
        lead_id = (await _post(api, report)).json()["lead_id"]
        erased = await api.post(
            f"/v1/leads/{lead_id}/erase", headers={"Authorization": f"Bearer {COMPLIANCE_KEY}"}
        )
        assert erased.status_code == 200 and erased.json()["by"] == "privacy.office"
        again = (await _post(api, event_payload(email=email))).json()["lead_id"]  # re-import

        with Session(db) as session:
            lead = session.get(Lead, lead_id)
            cases = session.exec(select(ScreeningCase)).all()
            suppressed = suppression_reason(session, email)
        assert lead is not None and lead.email is None and lead.npi is None
        assert suppressed == "erasure"
        assert [c.lead_id for c in cases] == [lead_id]  # the safety record stays
        assert again != lead_id
        # The re-imported lead's first touch is refused at send time: the address is suppressed.

        async def blocked() -> bool:
            state = (await api.get(f"/v1/leads/{again}")).json()
            return any(t["status"] == "blocked" for t in state["touches"])

        assert await eventually(blocked)
    assert [m["To"] for m in smtp_server.messages if m["To"] == email] == []


@pytest.mark.usefixtures("worker")
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_erasure_takes_the_person_out_of_crm_tasks_and_shreds_the_history(
    env: WorkflowEnvironment, settings: Settings, db: Engine
) -> None:
    ring = ops_keyring()
    ring.add("privacy.office", COMPLIANCE_KEY, ("compliance:act",))
    app = create_app(settings, client=env.client, db=db, keyring=ring)
    email = "task.erased@northside-cardio.example"
    async with api_client(app, OPS_KEY) as api:
        request = event_payload(email=email, type="meeting_requested", properties={})
        lead_id = (await _post(api, request)).json()["lead_id"]

        async def tasks() -> list[dict[str, Any]]:
            answer = await api.get("/v1/crm/tasks", params={"lead_id": lead_id})
            return answer.json()  # type: ignore[no-any-return]

        [task] = await eventually(tasks)
        assert task["context"]["lead"]["email"] == email
        erased = await api.post(
            f"/v1/leads/{lead_id}/erase", headers={"Authorization": f"Bearer {COMPLIANCE_KEY}"}
        )
        assert erased.status_code == 200
        [task] = await tasks()
    person = task["context"]["lead"]
    assert [person[k] for k in ("email", "npi", "crm_id", "first_name", "last_name")] == [None] * 5
    assert person["lead_id"] == lead_id and task["context"]["why"]["rule_id"]  # the record stays
    assert email not in json.dumps(task)
    # An unsubscribe link followed after the erasure starts nothing.
    token = unsubscribe_token(settings.resolved_signing_key(), lead_id)
    async with api_client(app, OPS_KEY) as api:
        clicked = await api.post("/v1/unsubscribe", params={"token": token})
    assert clicked.status_code == 200
    handle = env.client.get_workflow_handle(lead_workflow_id(lead_id))
    assert (await handle.describe()).status == WorkflowExecutionStatus.TERMINATED
    # Crypto-shredding: the lead's history no longer decodes, every run of it.
    history = await env.client.get_workflow_handle(lead_workflow_id(lead_id)).fetch_history()
    sealed = [p for p in history_payloads(history) if p.metadata.get("encoding") == ENCODING]
    assert sealed
    codec = env.client.data_converter.payload_codec
    assert codec is not None
    with pytest.raises(DataKeyUnavailable, match="destroyed or unknown"):
        await codec.decode(sealed[:1])


@pytest.mark.usefixtures("worker")
async def test_after_erasure_no_table_holds_the_person(
    env: WorkflowEnvironment, settings: Settings, db: Engine
) -> None:
    ring = ops_keyring()
    ring.add("privacy.office", COMPLIANCE_KEY, ("compliance:act",))
    ring.add("rep", SALES_KEY, ("sales:act",))
    app = create_app(settings, client=env.client, db=db, keyring=ring)
    person = {
        **event_payload()["lead"],
        "email": "quincy.vandermeer@northside-cardio.example",
        "first_name": "Quincy",
        "last_name": "Vandermeer",
        "crm_id": "CRM-QV-77",
    }
    identifiers = [person[k] for k in ("email", "npi", "crm_id", "first_name", "last_name")]
    async with api_client(app, OPS_KEY) as api:
        lead_id = ""
        for kind, properties in (
            ("content_downloaded", {"asset_id": "CVT-EVD-200", "topics": ["evidence"]}),
            ("consent_granted", {"channel": "email", "purpose": "promotional", "source": "form"}),
            ("meeting_requested", {"comment": "call Quincy Vandermeer after 5"}),
        ):
            payload = event_payload(type=kind, properties=properties) | {"lead": person}
            lead_id = (await _post(api, payload)).json()["lead_id"]
        sales = {"Authorization": f"Bearer {SALES_KEY}"}
        [task] = await eventually(
            lambda: _json(api.get("/v1/crm/tasks", params={"lead_id": lead_id}))
        )
        accepted = await api.post(
            f"/v1/crm/tasks/{task['task_id']}/accept",
            json={"note": "Quincy prefers mornings"},
            headers=sales,
        )
        assert accepted.status_code == 200, accepted.text
        erased = await api.post(
            f"/v1/leads/{lead_id}/erase", headers={"Authorization": f"Bearer {COMPLIANCE_KEY}"}
        )
        assert erased.status_code == 200

    found = []
    with db.connect() as connection:
        for table in SQLModel.metadata.sorted_tables:
            for row in connection.execute(sa.select(table)):
                text = json.dumps([str(v) for v in row])
                found += [(table.name, i) for i in [*identifiers, "Quincy"] if i in text]
    assert found == []


async def _json(response: Any) -> Any:
    return (await response).json()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_batch_accepts_the_good_events_and_names_the_bad_ones(
    api: httpx.AsyncClient,
) -> None:
    bad = _without("type")
    good = [event_payload(email="one@clinic.example"), event_payload(email="two@clinic.example")]
    response = await _post(api, {"events": [good[0], bad, good[1]]})
    assert response.status_code == 202, response.text
    results = {r["event_id"]: r for r in response.json()["results"]}
    assert [results[g["event_id"]]["status"] for g in good] == ["accepted", "accepted"]
    rejected = results[bad["event_id"]]
    assert rejected["status"] == "rejected" and rejected["lead_id"] is None
    assert [e["field"] for e in rejected["errors"]] == ["events.1.type"]
    again = await _post(api, good[0])  # the same event delivered again
    assert again.json()["status"] == "duplicate"
    assert again.json()["lead_id"] == results[good[0]["event_id"]]["lead_id"]

    found = await api.get("/v1/leads", params={"email": "ONE@clinic.example"})
    assert found.json()["lead_ids"] == [results[good[0]["event_id"]]["lead_id"]]
    assert (await api.get("/v1/leads")).status_code == 422
    too_many = {"events": [event_payload() for _ in range(501)]}
    assert (await _post(api, too_many)).status_code == 422


@pytest.mark.usefixtures("worker")
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_cli_shows_and_pauses_a_lead(
    api: httpx.AsyncClient, cli_settings: Settings, smtp_server: SmtpSink
) -> None:
    # The CLI reads the workflow through the installation's data keys (database, data dir).
    runner = CliRunner()
    lead_id = (await _post(api, event_payload())).json()["lead_id"]
    await eventually(lambda: smtp_server.messages)
    shown = await asyncio.to_thread(runner.invoke, cli_app, ["lead", "show", lead_id, "--json"])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.output)["track"] == "evidence-first"
    paused = await asyncio.to_thread(
        runner.invoke,
        cli_app,
        ["lead", "pause", lead_id, "--by", "rep.jordan", "--reason", "on holiday"],
    )
    assert paused.exit_code == 0, paused.output

    async def pause_recorded() -> bool:
        state = (await api.get(f"/v1/leads/{lead_id}")).json()
        return state["pause"] is not None and state["pause"]["by"] == "rep.jordan"

    assert await eventually(pause_recorded)
    listed = await asyncio.to_thread(runner.invoke, cli_app, ["lead", "decisions", lead_id])
    assert "manual.pause" in listed.output
