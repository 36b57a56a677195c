"""The send activity against a real SMTP server and both databases."""

from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from temporalio.testing import ActivityEnvironment

from activities.messaging import MessagingActivities, SmtpTarget
from models.events import LeadProfile
from models.lead import SendTouchInput, SendTouchResult
from models.tables import OutboxMessage
from starter.identity import resolve_lead
from starter.smtp_sink import SmtpSink
from tests.conftest import ProgramFactory, wait_for_messages


def _lead(engine: Engine, email: str = "a.rivera@northside-cardio.example") -> str:
    with Session(engine) as session:
        profile = LeadProfile(email=email, first_name="Ana", last_name="Rivera")
        return resolve_lead(session, profile)


def _touch(
    lead_id: str, asset_id: str = "CVT-EVD-210", touch_id: str = "touch-1"
) -> SendTouchInput:
    return SendTouchInput(
        lead_id=lead_id,
        touch_id=touch_id,
        asset_id=asset_id,
        trigger="timer:first_touch",
        program_version="2026.11.1",
    )


class _Sender:
    """Runs the send activity the way a worker does (in an activity context)."""

    def __init__(self, engine: Engine, sink: SmtpSink, program: Path) -> None:
        self._activities = MessagingActivities(engine, SmtpTarget(sink.host, sink.port), program)

    def send_touch(self, touch: SendTouchInput) -> SendTouchResult:
        return ActivityEnvironment().run(self._activities.send_touch, touch)  # type: ignore[no-any-return]


def _activities(engine: Engine, sink: SmtpSink, program: Path) -> _Sender:
    return _Sender(engine, sink, program)


async def test_sends_the_approved_email_once_per_touch(
    engine: Engine, smtp_server: SmtpSink, make_program: ProgramFactory
) -> None:
    activities = _activities(engine, smtp_server, make_program())
    lead_id = _lead(engine)
    first = activities.send_touch(_touch(lead_id))
    retried = activities.send_touch(_touch(lead_id))  # a retry of the same touch

    [email] = await wait_for_messages(smtp_server, 1)
    assert first == retried and first.status == "sent"
    assert (first.asset_id, first.asset_version) == ("CVT-EVD-210", "2.0")
    assert email["To"] == "a.rivera@northside-cardio.example"
    assert email["Message-ID"] == first.message_id
    assert email["List-Unsubscribe"]
    body = email.get_content()
    assert "Dear Ana Rivera" in body
    assert "IMPORTANT SAFETY INFORMATION" in body
    assert "100 Harbor Point Blvd" in body and "US-CVT-2026-0177" in body
    with Session(engine) as session:
        [row] = session.exec(select(OutboxMessage).where(OutboxMessage.lead_id == lead_id)).all()
    assert (row.status, row.asset_version, row.program_version) == ("sent", "2.0", "2026.11.1")
    assert row.sent_at is not None and row.sent_at.tzinfo is not None


async def test_a_second_touch_is_a_second_email(
    engine: Engine, smtp_server: SmtpSink, make_program: ProgramFactory
) -> None:
    activities = _activities(engine, smtp_server, make_program())
    lead_id = _lead(engine)
    activities.send_touch(_touch(lead_id, touch_id="touch-1"))
    activities.send_touch(_touch(lead_id, asset_id="CVT-EVT-300", touch_id="touch-2"))
    emails = await wait_for_messages(smtp_server, 2)
    assert [e["X-Leadflow-Asset"] for e in emails] == [
        "CVT-EVD-210;version=2.0",
        "CVT-EVT-300;version=1.2",
    ]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"status": "withdrawn"}, "asset status is withdrawn"),
        ({"status": "in_review"}, "asset status is in_review"),
        ({"expires_on": "2020-01-01"}, "asset expired on 2020-01-01"),
    ],
)
def test_unsendable_assets_are_blocked_at_send_time(
    engine: Engine,
    smtp_server: SmtpSink,
    make_program: ProgramFactory,
    change: dict[str, str],
    reason: str,
) -> None:
    program = make_program(asset_changes={"CVT-EVD-210": change})
    result = _activities(engine, smtp_server, program).send_touch(_touch(_lead(engine)))
    assert (result.status, result.reason) == ("blocked", reason)
    assert smtp_server.messages == []
    with Session(engine) as session:
        assert session.exec(select(OutboxMessage)).all() == []


def test_lead_without_email_is_blocked(
    engine: Engine, smtp_server: SmtpSink, make_program: ProgramFactory
) -> None:
    with Session(engine) as session:
        lead_id = resolve_lead(session, LeadProfile(npi="1234567893"))
    result = _activities(engine, smtp_server, make_program()).send_touch(_touch(lead_id))
    assert (result.status, result.reason) == ("blocked", "no email address on file")
    assert smtp_server.messages == []
