"""Free text screened at intake: a possible adverse event opens a safety case that reaches drug
safety by its deadline (or escalates), and the commercial side sees only a case reference."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from temporalio.testing import WorkflowEnvironment

from models.program import load_program
from models.tables import ScreeningCase
from starter.settings import SAMPLE_PROGRAM
from starter.smtp_sink import SmtpSink
from tests.helpers.journey import Journey
from tests.helpers.polling import eventually

pytestmark = pytest.mark.program(SAMPLE_PROGRAM)

PROGRAM = load_program(SAMPLE_PROGRAM)
AE_COMMENT = "My patient, 71, got really dizzy and fainted after starting Corvanta last week"


def _cases(db: Engine) -> list[ScreeningCase]:
    with Session(db) as session:
        return list(session.exec(select(ScreeningCase)).all())


async def test_adverse_event_in_a_form_comment_opens_a_case_and_never_reaches_sales(
    lead: Journey, sqlite_db: Engine, smtp_server: SmtpSink
) -> None:
    contacts = PROGRAM.safety_contacts
    assert contacts is not None
    await lead.event("page_viewed", topics=["heart_failure"])
    before = await lead.state()
    await lead.event("form_submitted", form="contact-us", comment=AE_COMMENT)
    state = await lead.state()
    history = await lead.handle.fetch_history()

    async def forwarded() -> list[object]:
        return [m for m in smtp_server.messages if m["To"] == contacts.drug_safety_mailbox]

    [report] = await eventually(forwarded)
    # The case is marked forwarded just after the mail server took the report.
    [case] = await eventually(lambda: [c for c in _cases(sqlite_db) if c.forwarded_at])

    assert case.route == "drug_safety" and "adverse_event" in json.loads(case.flags)
    assert case.forward_by is not None and case.forward_by > case.awareness_at
    assert json.loads(case.minimum_elements)["suspect_product"] is True
    assert case.status == "forwarded" or case.forwarded_at is not None
    assert AE_COMMENT in report.get_content()  # type: ignore[attr-defined]
    # The commercial side: no text anywhere, only the reference; no score for the report.
    assert "dizzy" not in state.model_dump_json()
    assert "dizzy" not in history.to_json()
    assert state.score.engagement == before.score.engagement
    routed = [d for d in state.decisions if d.rule_id == "screening.routed"]
    assert routed and case.case_ref in routed[0].outcome


async def test_a_case_not_forwarded_by_its_deadline_escalates(
    env: WorkflowEnvironment, lead: Journey, sqlite_db: Engine, smtp_server: SmtpSink
) -> None:
    contacts = PROGRAM.safety_contacts
    assert contacts is not None
    smtp_server.refuse(contacts.drug_safety_mailbox)  # the safety mailbox is down
    await lead.event("form_submitted", form="contact-us", comment=AE_COMMENT)
    [case] = _cases(sqlite_db)
    assert case.forward_by is not None
    while await env.get_current_time() < case.forward_by:
        await env.sleep(timedelta(hours=6))  # forwarding keeps failing

    async def escalated() -> list[object]:
        return [m for m in smtp_server.messages if m["To"] == contacts.escalation_mailbox]

    [alert] = await eventually(escalated)

    assert case.case_ref in str(alert["Subject"])
    assert "dizzy" not in alert.get_content()  # type: ignore[attr-defined]
    [case] = _cases(sqlite_db)
    assert case.escalated_at is not None and case.forwarded_at is None
