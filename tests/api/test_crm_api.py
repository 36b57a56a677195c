"""CRM tasks over HTTP and the CLI, on the dev server with SQLite and PostgreSQL: list by queue
and status, accept / reject / close with scopes, the acting key recorded, clear errors."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner

from starter.api import create_app
from starter.auth import KeyRing
from starter.cli import app as cli_app
from starter.settings import Settings
from tests.helpers.api import api_client
from tests.helpers.factories import event_payload
from tests.helpers.polling import eventually

OPS_KEY = "crm-ops-key"
SALES_KEY = "crm-sales-key"


def _keyring() -> KeyRing:
    ring = KeyRing()
    ring.add("ops", OPS_KEY, ("events:write", "leads:read"))
    ring.add("rep.jordan", SALES_KEY, ("sales:act", "leads:read"))
    return ring


@pytest.mark.devserver
@pytest.mark.usefixtures("worker")
async def test_sales_list_accept_and_close_a_routed_meeting_request(
    env: WorkflowEnvironment,
    settings: Settings,
    db: Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = create_app(settings, client=env.client, db=db, keyring=_keyring())
    sales = {"Authorization": f"Bearer {SALES_KEY}"}
    async with api_client(app, OPS_KEY) as api:
        sent = await api.post("/v1/events", json=event_payload("meeting_requested"))
        assert sent.status_code == 202, sent.text
        lead_id = sent.json()["lead_id"]

        async def listed() -> list[dict[str, Any]]:
            params = {"queue": "sales-us-midwest", "status": "open"}
            return (await api.get("/v1/crm/tasks", params=params)).json()  # type: ignore[no-any-return]

        [task] = await eventually(listed)
        task_id = task["task_id"]
        assert task["lead_id"] == lead_id and task["rule_id"] == "route.meeting_request"
        assert task["due_at"] and task["context"]["sla_due_at"] == task["due_at"]
        assert (await api.get("/v1/crm/tasks", params={"status": "bogus"})).status_code == 422

        forbidden = await api.post(f"/v1/crm/tasks/{task_id}/accept")
        assert forbidden.status_code == 403 and "sales:act" in forbidden.json()["detail"]
        question = {"text": "Who can enrol in CORVA-HF?"}
        medical = await api.post(
            "/v1/events",
            json=event_payload("trial_question", email="l.chen@uic.example", properties=question),
        )
        lead_mi = medical.json()["lead_id"]

        async def trial_task() -> list[dict[str, Any]]:
            params = {"lead_id": lead_mi}
            return (await api.get("/v1/crm/tasks", params=params)).json()  # type: ignore[no-any-return]

        [trial] = await eventually(trial_task)
        not_sales = await api.post(f"/v1/crm/tasks/{trial['task_id']}/accept", headers=sales)
        assert not_sales.status_code == 403 and "compliance:act" in not_sales.json()["detail"]
        unknown = await api.post("/v1/crm/tasks/ld_x-t9/accept", headers=sales)
        assert unknown.status_code == 404 and "ld_x-t9" in unknown.json()["detail"]
        no_reason = await api.post(f"/v1/crm/tasks/{task_id}/reject", json={}, headers=sales)
        assert no_reason.status_code == 422 and "reason" in no_reason.text
        bad_reason = await api.post(
            f"/v1/crm/tasks/{task_id}/reject", json={"reason": "too_busy"}, headers=sales
        )
        assert bad_reason.status_code == 422 and "reason" in bad_reason.text

        early = await api.post(
            f"/v1/crm/tasks/{task_id}/close", json={"outcome": "won"}, headers=sales
        )
        assert early.status_code == 409 and "accepted before" in early.json()["detail"]
        accepted = await api.post(f"/v1/crm/tasks/{task_id}/accept", headers=sales)
        assert accepted.status_code == 200, accepted.text
        assert accepted.json()["stage"] == "sales_accepted"
        again = await api.post(f"/v1/crm/tasks/{task_id}/accept", headers=sales)
        assert again.status_code == 409 and "already accepted" in again.json()["detail"]
        [row] = (await api.get("/v1/crm/tasks", params={"lead_id": lead_id})).json()
        assert row["status"] == "accepted" and row["actor"] == "rep.jordan"
        state = (await api.get(f"/v1/leads/{lead_id}")).json()
        assert state["owner_queue"] == "sales-us-midwest" and state["stage"] == "sales_accepted"

        monkeypatch.setenv(
            "LEADFLOW_TEMPORAL_ADDRESS", env.client.service_client.config.target_host
        )
        monkeypatch.setenv("LEADFLOW_TASK_QUEUE", settings.task_queue)
        monkeypatch.setenv("LEADFLOW_DATABASE_URL", str(db.url.render_as_string(False)))
        # The data dir holds the master key wrapping the payload data keys in that database.
        monkeypatch.setenv("LEADFLOW_DATA_DIR", str(settings.data_dir))
        runner = CliRunner()
        shown = await asyncio.to_thread(
            runner.invoke, cli_app, ["task", "list", "--lead", lead_id, "--json"]
        )
        assert shown.exit_code == 0, shown.output
        assert [t["task_id"] for t in json.loads(shown.output)] == [task_id]
        closed = await asyncio.to_thread(
            runner.invoke, cli_app, ["task", "close", task_id, "--outcome", "won"]
        )
        assert closed.exit_code == 0, closed.output
        assert "closed" in closed.output
        late = await asyncio.to_thread(
            runner.invoke, cli_app, ["task", "reject", task_id, "--reason", "not_ready"]
        )
        assert late.exit_code == 1 and "not open" in late.output

        state = (await api.get(f"/v1/leads/{lead_id}")).json()
        audit = (await api.get(f"/v1/leads/{lead_id}/audit")).json()
        summary = (await api.get("/v1/crm/summary")).json()

    assert state["stage"] == "closed" and state["owner_queue"] is None
    assert summary["by_queue"]["sales-us-midwest"] == {"closed": 1}
    handoffs = {(e["actor"], e["what"]) for e in audit["entries"] if e["kind"] == "handoff"}
    assert ("leadflow", f"task {task_id} in sales-us-midwest (route.meeting_request)") in handoffs
    assert any(actor.startswith("cli:") and "closed" in what for actor, what in handoffs)
    decisions = [e for e in audit["entries"] if e["kind"] == "decision"]
    assert any(e["actor"] == "rep.jordan" and e["what"] == f"task {task_id}" for e in decisions)
