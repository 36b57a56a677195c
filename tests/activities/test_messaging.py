"""The send activity against a real SMTP server and both databases: everything re-checked at
the moment of sending, at most one email per touch."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.messaging import Links, MessagingActivities, SmtpTarget
from leadflow_domain.consent import append_consent, consent_record_for, suppress
from leadflow_domain.content import import_catalog
from models.events import LeadEventIn, LeadProfile
from models.lead_state import SendTouchInput, SendTouchResult
from models.program import load_program
from models.tables import Lead, OutboxMessage, utcnow
from starter.identity import resolve_lead
from starter.settings import SAMPLE_PROGRAM
from starter.smtp_sink import SmtpSink
from tests.helpers.factories import event_payload, npi_for
from tests.helpers.polling import wait_for_messages
from tests.helpers.programs import ProgramFactory

SIGNING_KEY = "test-signing-key"


def _lead(db: Engine, email: str = "a.rivera@northside-cardio.example", **profile: Any) -> str:
    fields = {"first_name": "Ana", "last_name": "Rivera", "npi": npi_for(email), "country": "US"}
    fields.update(profile)
    with Session(db) as session:
        return resolve_lead(session, LeadProfile(email=email, **fields))


def _touch(
    lead_id: str, asset_id: str = "CVT-EVD-210", touch_id: str = "touch-1"
) -> SendTouchInput:
    return SendTouchInput(
        lead_id=lead_id,
        touch_id=touch_id,
        asset_id=asset_id,
        trigger="timer:touch",
        program_version="2026.11.1",
    )


class Sender:
    """Runs the send activity the way a worker does (in an activity context), on a library
    imported from the program's catalog."""

    def __init__(self, db: Engine, sink: SmtpSink, program: Path) -> None:
        with Session(db) as session:
            import_catalog(session, load_program(program))
        self.activities = MessagingActivities(
            db,
            SmtpTarget(sink.host, sink.port),
            program,
            Links("http://leadflow.test", SIGNING_KEY),
        )

    def send_touch(self, touch: SendTouchInput) -> SendTouchResult:
        return ActivityEnvironment().run(self.activities.send_touch, touch)  # type: ignore[no-any-return]


def _outbox(db: Engine) -> list[OutboxMessage]:
    with Session(db) as session:
        return list(session.exec(select(OutboxMessage)).all())


async def test_sends_the_approved_email_once_per_touch(
    db: Engine, smtp_server: SmtpSink, make_program: ProgramFactory
) -> None:
    sender = Sender(db, smtp_server, make_program())
    lead_id = _lead(db)
    first = sender.send_touch(_touch(lead_id))
    retried = sender.send_touch(_touch(lead_id))  # a retry of the same touch

    [email] = await wait_for_messages(smtp_server, 1)
    assert first == retried and first.status == "sent"
    assert (first.asset_id, first.asset_version) == ("CVT-EVD-210", "2.0")
    assert email["To"] == "a.rivera@northside-cardio.example"
    assert email["Message-ID"] == first.message_id
    assert "/v1/unsubscribe?token=" in email["List-Unsubscribe"]
    assert email["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text = email.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Dear Ana Rivera" in text
    assert "IMPORTANT SAFETY INFORMATION" in text
    assert "100 Harbor Point Blvd" in text and "US-CVT-2026-0177" in text
    assert "Unsubscribe: http://leadflow.test/v1/unsubscribe?token=" in text
    [row] = _outbox(db)
    assert (row.status, row.asset_version, row.program_version) == ("sent", "2.0", "2026.11.1")
    assert row.consent_state is not None and row.consent_state.startswith("no_objection")
    assert row.sent_at is not None and row.sent_at.tzinfo is not None


async def test_personalisation_is_escaped_in_html(
    db: Engine, smtp_server: SmtpSink, make_program: ProgramFactory
) -> None:
    sender = Sender(db, smtp_server, make_program())
    lead_id = _lead(db, first_name="<script>x</script>")
    sender.send_touch(_touch(lead_id))
    [email] = await wait_for_messages(smtp_server, 1)
    html = email.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "<script>" not in html and "&lt;script&gt;" in html


async def test_a_second_touch_is_a_second_email(
    db: Engine, smtp_server: SmtpSink, make_program: ProgramFactory
) -> None:
    sender = Sender(db, smtp_server, make_program())
    lead_id = _lead(db)
    sender.send_touch(_touch(lead_id, touch_id="touch-1"))
    sender.send_touch(_touch(lead_id, asset_id="CVT-EVT-300", touch_id="touch-2"))
    emails = await wait_for_messages(smtp_server, 2)
    assert [e["X-Leadflow-Asset"] for e in emails] == [
        "CVT-EVD-210;version=2.0",
        "CVT-EVT-300;version=1.2",
    ]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"status": "withdrawn"}, "asset status is withdrawn"),
        ({"status": "draft"}, "asset status is draft"),
        ({"status": "in_review"}, "asset status is in_review"),
        ({"status": "superseded"}, "asset status is superseded"),
        ({"expires_on": "2020-01-01"}, "asset expired on 2020-01-01"),
        ({"countries": ["CA"]}, "asset not approved for US"),
        ({"audience": ["consumer"]}, "promotional asset not approved for healthcare professionals"),
        ({"channel": "print"}, "asset is for the print channel, not email"),
    ],
)
def test_unsendable_assets_are_blocked_at_send_time(
    db: Engine,
    smtp_server: SmtpSink,
    make_program: ProgramFactory,
    change: dict[str, Any],
    reason: str,
) -> None:
    program = make_program(asset_changes={"CVT-EVD-210": change})
    result = Sender(db, smtp_server, program).send_touch(_touch(_lead(db)))
    assert (result.status, result.reason) == ("blocked", reason)
    assert smtp_server.messages == []
    assert _outbox(db) == []


def test_an_asset_that_expires_after_scheduling_is_not_sent(
    db: Engine, smtp_server: SmtpSink, make_program: ProgramFactory
) -> None:
    yesterday = (utcnow() - timedelta(days=1)).date().isoformat()
    sender = Sender(db, smtp_server, make_program())  # imported while still valid
    program = make_program(asset_changes={"CVT-EVD-210": {"expires_on": yesterday}})
    sender.activities._program_path = program  # the catalog as it is on the send date
    result = sender.send_touch(_touch(_lead(db)))
    assert (result.status, result.reason) == ("blocked", f"asset expired on {yesterday}")
    assert smtp_server.messages == []


@pytest.mark.parametrize(
    ("profile", "reason"),
    [
        ({"npi": None}, "recipient not a verified healthcare professional"),
        ({"npi": "1234567890"}, "recipient not a verified healthcare professional"),
        ({"country": None}, "recipient country unknown"),
    ],
)
def test_recipients_who_may_not_get_promotion_are_blocked(
    db: Engine,
    smtp_server: SmtpSink,
    make_program: ProgramFactory,
    profile: dict[str, Any],
    reason: str,
) -> None:
    lead_id = _lead(db, email="someone@clinic.example", **profile)
    result = Sender(db, smtp_server, make_program()).send_touch(_touch(lead_id))
    assert (result.status, result.reason) == ("blocked", reason)
    assert smtp_server.messages == []


def test_no_email_address_is_blocked(
    db: Engine, smtp_server: SmtpSink, make_program: ProgramFactory
) -> None:
    with Session(db) as session:
        lead_id = resolve_lead(session, LeadProfile(npi="1234567893", country="US"))
    result = Sender(db, smtp_server, make_program()).send_touch(_touch(lead_id))
    assert (result.status, result.reason) == ("blocked", "no email address on file")


def _consent_event(
    db: Engine, lead_id: str, type: str, at: str = "2026-11-23T09:30:00Z", **props: Any
) -> None:
    program = load_program(SAMPLE_PROGRAM)
    event = LeadEventIn.model_validate(event_payload(type=type, properties=props, occurred_at=at))
    with Session(db) as session:
        lead = session.get(Lead, lead_id)
        record = consent_record_for(lead_id, event, lead.country if lead else None, program.consent)
        assert record is not None
        append_consent(session, record)


def test_opt_out_between_scheduling_and_sending_stops_the_email(
    db: Engine, smtp_server: SmtpSink, make_program: ProgramFactory
) -> None:
    lead_id = _lead(db)
    _consent_event(db, lead_id, "unsubscribed", channel="email")
    result = Sender(db, smtp_server, make_program()).send_touch(_touch(lead_id))
    assert result.status == "blocked"
    assert result.reason is not None and result.reason.startswith("no email consent: withdrawn")
    assert smtp_server.messages == []


def test_suppressed_address_gets_nothing(
    db: Engine, smtp_server: SmtpSink, make_program: ProgramFactory
) -> None:
    lead_id = _lead(db)
    with Session(db) as session:
        suppress(session, "A.Rivera@northside-cardio.example", "hard_bounce")
    result = Sender(db, smtp_server, make_program()).send_touch(_touch(lead_id))
    assert (result.status, result.reason) == ("blocked", "address suppressed (hard_bounce)")


async def test_german_lead_needs_a_confirmed_double_opt_in(
    db: Engine, smtp_server: SmtpSink, make_program: ProgramFactory
) -> None:
    program = make_program(asset_changes={"CVT-EVD-210": {"countries": ["US", "DE"]}})
    sender = Sender(db, smtp_server, program)
    lead_id = _lead(
        db, email="dr.weber@klinik.example", country="DE", npi=None, crm_id="CRM-DE-0042"
    )  # verified through the CRM: an NPI is a US identifier
    assert sender.send_touch(_touch(lead_id)).reason == (
        "no email consent: none (no consent on record; DE needs opt-in)"
    )
    _consent_event(db, lead_id, "consent_granted", channel="email", purpose="promotional")
    pending = sender.send_touch(_touch(lead_id, touch_id="touch-2"))
    assert pending.reason is not None and pending.reason.startswith("no email consent: pending")
    _consent_event(
        db,
        lead_id,
        "consent_granted",
        at="2026-11-23T09:42:00Z",  # the recipient clicked the confirmation link
        channel="email",
        purpose="promotional",
        method="double_opt_in",
        confirmed=True,
        evidence={"token": "doi-7f3a"},
    )
    assert sender.send_touch(_touch(lead_id, touch_id="touch-3")).status == "sent"
    assert len(await wait_for_messages(smtp_server, 1)) == 1


class _CrashAfterAccept(MessagingActivities):
    """Fails once right after the SMTP server has accepted the message (a worker crash)."""

    def _deliver(self, *args: Any) -> bool:
        delivered = super()._deliver(*args)
        if not getattr(self, "crashed", False):
            self.crashed = True
            raise ConnectionResetError("worker lost after the SMTP server accepted the message")
        return delivered


async def test_a_crash_after_smtp_accepted_is_retried_and_one_email_arrives(
    db: Engine, smtp_server: SmtpSink, make_program: ProgramFactory
) -> None:
    sender = Sender(db, smtp_server, make_program())
    crashing = _CrashAfterAccept(
        db,
        SmtpTarget(smtp_server.host, smtp_server.port),
        make_program(),
        Links("http://leadflow.test", SIGNING_KEY),
    )
    lead_id = _lead(db)
    with pytest.raises(ApplicationError, match="mail server unavailable"):
        ActivityEnvironment().run(crashing.send_touch, _touch(lead_id))
    retried = sender.send_touch(_touch(lead_id))  # Temporal retries the activity
    assert retried.status == "sent"
    await wait_for_messages(smtp_server, 1)
    assert len(smtp_server.messages) == 1


def test_a_refused_recipient_fails_for_good_and_names_no_address(
    db: Engine, smtp_server: SmtpSink, make_program: ProgramFactory
) -> None:
    sender = Sender(db, smtp_server, make_program())
    lead_id = _lead(db)
    smtp_server.refuse("a.rivera@northside-cardio.example")
    with pytest.raises(ApplicationError) as err:
        sender.send_touch(_touch(lead_id))
    assert err.value.type == "SmtpRefused" and err.value.non_retryable
    assert "a.rivera" not in str(err.value)
    [row] = _outbox(db)
    assert row.status == "sending"  # nothing went out
    assert smtp_server.messages == []
