"""Sending approved content by email: every rule re-checked at the moment of sending, at most
one email per touch, each send recorded in the outbox."""

from __future__ import annotations

import hashlib
import smtplib
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, parseaddr
from html import escape
from pathlib import Path

import sqlalchemy as sa
import structlog
from jinja2 import StrictUndefined
from jinja2.sandbox import SandboxedEnvironment
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select
from temporalio import activity
from temporalio.exceptions import ApplicationError

from leadflow_domain.consent import consent_records, effective_consent, suppression_reason
from leadflow_domain.content import current_asset, send_refusal
from leadflow_domain.enrichment import npi_is_valid
from leadflow_domain.tokens import unsubscribe_token
from models.lead_state import SendTouchInput, SendTouchResult
from models.program import Program, ProgramError, load_program
from models.tables import AssetRecord, Lead, OutboxMessage, utcnow

log = structlog.get_logger(__name__)

_text = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
_html = SandboxedEnvironment(undefined=StrictUndefined, autoescape=True)


def activity_log(lead_id: str) -> structlog.typing.FilteringBoundLogger:
    """A logger bound to the calling workflow and lead (opaque ids only, never PII)."""
    info = activity.info()
    return log.bind(  # type: ignore[no-any-return]
        workflow_id=info.workflow_id, run_id=info.workflow_run_id, lead_id=lead_id
    )


@dataclass(frozen=True)
class SmtpTarget:
    host: str
    port: int
    timeout_seconds: float = 20.0


def send_notice(smtp: SmtpTarget, sender: str, to: str, subject: str, lines: list[str]) -> None:
    """A plain-text operational email (safety forwarding, SLA escalation): not marketing."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message.set_content("\n".join(lines) + "\n")
    with smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout_seconds) as client:
        client.send_message(message)


@dataclass(frozen=True)
class Links:
    """How recipients reach Leadflow back: the public API URL and the link-signing key."""

    public_url: str
    signing_key: str

    def unsubscribe(self, lead_id: str) -> str:
        return (
            f"{self.public_url}/v1/unsubscribe?token={unsubscribe_token(self.signing_key, lead_id)}"
        )


def message_id_for(idempotency_key: str) -> str:
    """A stable Message-ID for one touch, so a resend is recognisable as the same message."""
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]
    return f"<{digest}@leadflow.local>"


def salutation(lead: Lead) -> str:
    """Only safe profile fields personalise an email: the recipient's own name."""
    name = " ".join(part for part in (lead.first_name, lead.last_name) if part)
    return name or "colleague"


def hcp_verified(lead: Lead) -> bool:
    """HCP status from verified data only: a valid US NPI or a CRM record."""
    return bool((lead.npi and npi_is_valid(lead.npi) and lead.country == "US") or lead.crm_id)


def render_email(
    program: Program, asset: AssetRecord, lead: Lead, message_id: str, unsubscribe_url: str
) -> EmailMessage:
    """The email for one asset: approved text, ISI, sender identity, postal address, and a
    working unsubscribe link; plain text plus an autoescaped HTML alternative."""
    context = {"salutation": salutation(lead)}
    body = _text.from_string(asset.body).render(context).rstrip()
    footer = (
        f"{program.sender.name}\n{program.sender.postal_address}\n"
        f"{asset.approval_id} · approved {asset.approval_date.isoformat()}\n"
        f"Unsubscribe: {unsubscribe_url}"
    )
    text_parts = [body, *([asset.isi.rstrip()] if asset.isi else []), footer]
    message = EmailMessage()
    message["From"] = formataddr((program.sender.name, program.sender.address))
    message["To"] = lead.email or ""
    message["Subject"] = _text.from_string(asset.subject).render(context)
    message["Message-ID"] = message_id
    message["Date"] = format_datetime(datetime.now(UTC))
    message["List-Unsubscribe"] = (
        f"<{unsubscribe_url}>, <mailto:{program.sender.address}?subject=unsubscribe>"
    )
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message["X-Leadflow-Asset"] = f"{asset.asset_id};version={asset.version}"
    message.set_content("\n\n".join(text_parts) + "\n")
    html_body = _html.from_string(asset.body).render(context)
    paragraphs = "".join(f"<p>{p}</p>" for p in html_body.split("\n\n") if p.strip())
    isi = f"<p><small>{escape(asset.isi)}</small></p>" if asset.isi else ""
    message.add_alternative(
        f"<html><body>{paragraphs}{isi}<p><small>{escape(footer)}</small></p>"
        f'<p><a href="{escape(unsubscribe_url)}">Unsubscribe</a></p></body></html>',
        subtype="html",
    )
    return message


class MessagingActivities:
    """Email through SMTP; the outbox table makes each touch idempotent."""

    def __init__(self, db: Engine, smtp: SmtpTarget, program_path: Path, links: Links) -> None:
        self._db = db
        self._smtp = smtp
        self._program_path = program_path
        self._links = links

    @activity.defn(name="send_touch")
    def send_touch(self, request: SendTouchInput) -> SendTouchResult:
        """Re-check everything at send time, record the send, then send it (at most once)."""
        try:
            program = load_program(self._program_path)
        except ProgramError as err:
            # Approval status cannot be re-checked against a broken catalog: do not send.
            return self._blocked(request.asset_id, f"program unusable: {err}")
        with Session(self._db) as session:
            return self._send_once(session, request, program)

    def _send_once(
        self, session: Session, request: SendTouchInput, program: Program
    ) -> SendTouchResult:
        """Settled touches answer from the outbox; a new one is checked, claimed, then sent."""
        existing = self._outbox_row(session, request)
        settled = self._settled(existing, request)
        if settled is not None:
            return settled
        asset = current_asset(session, request.asset_id)
        lead = session.get(Lead, request.lead_id)
        refusal, consent = self._refusal(session, program, asset, lead)
        if refusal or asset is None or lead is None:
            return self._blocked(request.asset_id, refusal or "unknown")
        row = existing or self._claim(session, request, program, asset, lead, consent)
        if not self._start_delivery(session, row):
            return self._not_resent(session, row, asset)
        email = render_email(
            program, asset, lead, row.message_id, self._links.unsubscribe(lead.lead_id)
        )
        if not self._deliver_or_raise(email, session, row):
            return self._blocked(asset.asset_id, "the SMTP server refused the message")
        activity_log(request.lead_id).info(
            "touch sent",
            touch_id=request.touch_id,
            asset_id=asset.asset_id,
            asset_version=asset.version,
        )
        return self._sent(row)

    def _settled(
        self, existing: OutboxMessage | None, request: SendTouchInput
    ) -> SendTouchResult | None:
        """The answer for a touch the outbox already settled, or None to go on."""
        if existing is not None and existing.status == "sent":
            return self._sent(existing)  # a retry of a touch already sent
        if existing is not None and existing.status == "refused":
            return self._blocked(request.asset_id, "the SMTP server refused the message")
        return None

    def _not_resent(
        self, session: Session, row: OutboxMessage, asset: AssetRecord
    ) -> SendTouchResult:
        # Another attempt got here first, or one was cut off mid-delivery: sending
        # again could duplicate the email, so this touch is not resent.
        session.refresh(row)
        if row.status == "sent":
            return self._sent(row)
        return self._blocked(asset.asset_id, "delivery interrupted; not resent")

    def _deliver_or_raise(self, email: EmailMessage, session: Session, row: OutboxMessage) -> bool:
        """`_deliver`, with SMTP failures raised as typed errors; a row still delivering goes
        back to sending first, so a retry may send."""
        try:
            return self._deliver(email, session, row)
        except smtplib.SMTPResponseException as err:
            self._reset(session, row)
            raise _smtp_error(err.smtp_code) from None
        except (smtplib.SMTPException, OSError) as err:
            self._reset(session, row)
            raise ApplicationError(
                f"mail server unavailable ({type(err).__name__})", type="SmtpUnavailable"
            ) from None

    @staticmethod
    def _refusal(
        session: Session, program: Program, asset: AssetRecord | None, lead: Lead | None
    ) -> tuple[str | None, str]:
        """Why not to send now (asset, recipient, consent, suppression), and the consent used."""
        if asset is None:
            return "asset is not in the approved content library", ""
        in_catalog = program.asset(asset.asset_id)
        if in_catalog is None:
            return "asset is no longer in the program's catalog", ""
        catalog_refusal = in_catalog.sendable_on(utcnow().date())
        if catalog_refusal:  # withdrawn in the catalog file before the library was re-imported
            return catalog_refusal, ""
        if lead is None or not lead.email:
            return "no email address on file", ""
        if lead.merged_into:  # its person, events and consent now live on the survivor
            return f"lead merged into {lead.merged_into}", ""
        refusal = send_refusal(
            asset, country=lead.country, hcp_verified=hcp_verified(lead), today=utcnow().date()
        )
        if refusal:
            return refusal, ""
        suppressed = suppression_reason(session, lead.email)
        if suppressed:
            return f"address suppressed ({suppressed})", ""
        consent = effective_consent(
            consent_records(session, lead.lead_id),
            channel="email",
            purpose="promotional" if asset.promotional else "medical",
            country=lead.country,
            now=utcnow(),
            rules=program.consent,
        )
        if not consent.allows_sending:
            return f"no email consent: {consent}", str(consent)
        return None, str(consent)

    @staticmethod
    def _blocked(asset_id: str, reason: str) -> SendTouchResult:
        return SendTouchResult(status="blocked", asset_id=asset_id, reason=reason)

    @staticmethod
    def _sent(row: OutboxMessage) -> SendTouchResult:
        return SendTouchResult(
            status="sent",
            asset_id=row.asset_id,
            asset_version=row.asset_version,
            message_id=row.message_id,
        )

    @staticmethod
    def _start_delivery(session: Session, row: OutboxMessage) -> bool:
        """Move the row from sending to delivering; only the attempt that does so sends."""
        result = session.execute(
            sa.update(OutboxMessage)
            .where(col(OutboxMessage.id) == row.id, col(OutboxMessage.status) == "sending")
            .values(status="delivering")
        )
        session.commit()
        return bool(result.rowcount)  # type: ignore[attr-defined]

    @staticmethod
    def _reset(session: Session, row: OutboxMessage) -> None:
        """Nothing was delivered (the transaction failed before the end of DATA): retry may send."""
        session.rollback()
        session.execute(
            sa.update(OutboxMessage)
            .where(col(OutboxMessage.id) == row.id, col(OutboxMessage.status) == "delivering")
            .values(status="sending")
        )
        session.commit()

    @staticmethod
    def _outbox_row(session: Session, request: SendTouchInput) -> OutboxMessage | None:
        key = f"{request.lead_id}:{request.touch_id}"
        return session.exec(
            select(OutboxMessage).where(OutboxMessage.idempotency_key == key)
        ).first()

    def _claim(
        self,
        session: Session,
        request: SendTouchInput,
        program: Program,
        asset: AssetRecord,
        lead: Lead,
        consent: str,
    ) -> OutboxMessage:
        """The outbox row for this touch, written before anything is sent."""
        key = f"{request.lead_id}:{request.touch_id}"
        row = OutboxMessage(
            idempotency_key=key,
            lead_id=request.lead_id,
            touch_id=request.touch_id,
            asset_id=asset.asset_id,
            asset_version=asset.version,
            program_version=program.version,
            trigger=request.trigger,
            message_id=message_id_for(key),
            subject=asset.subject,
            recipient=lead.email or "",
            status="sending",
            consent_state=consent[:200],
            created_at=utcnow(),
        )
        session.add(row)
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
            existing = self._outbox_row(session, request)
            assert existing is not None
            return existing
        session.refresh(row)
        return row

    def _deliver(self, email: EmailMessage, session: Session, row: OutboxMessage) -> bool:
        """Send with the outbox row marked sent between the body and the final dot of DATA.

        If marking fails, the transaction is dropped and nothing is delivered; once marked, a
        crash or retry finds the row sent and sends nothing more: at most one email per touch.
        Returns False when the server refuses the message at the end (recorded as refused).
        """
        with smtplib.SMTP(
            self._smtp.host, self._smtp.port, timeout=self._smtp.timeout_seconds
        ) as smtp:
            smtp.ehlo_or_helo_if_needed()
            sender, recipient = parseaddr(str(email["From"]))[1], parseaddr(str(email["To"]))[1]
            code, reply = smtp.mail(sender)
            if code != 250:
                raise smtplib.SMTPResponseException(code, reply)
            code, reply = smtp.rcpt(recipient)
            if code not in (250, 251):
                raise smtplib.SMTPResponseException(code, reply)
            code, reply = smtp.docmd("DATA")
            if code != 354:
                raise smtplib.SMTPDataError(code, reply)
            smtp.send(_dot_stuffed(email.as_bytes()))
            row.status = "sent"
            row.sent_at = utcnow()
            session.add(row)
            session.commit()
            smtp.send(b".\r\n")
            code, _ = smtp.getreply()
            if code != 250:
                log.error("smtp refused a message after it was recorded", code=code)
                row.status = "refused"
                session.add(row)
                session.commit()
                return False
        return True


def _smtp_error(code: int) -> ApplicationError:
    """An SMTP refusal as a typed error that names no address (it lands in history and logs)."""
    if 500 <= code < 600:
        return ApplicationError(
            f"SMTP server refused the message (code {code})", type="SmtpRefused", non_retryable=True
        )
    return ApplicationError(f"SMTP server deferred the message (code {code})", type="SmtpDeferred")


def _dot_stuffed(message: bytes) -> bytes:
    """The DATA body per RFC 5321: CRLF line ends, leading dots doubled, ending in CRLF."""
    lines = message.replace(b"\r\n", b"\n").split(b"\n")
    stuffed = b"\r\n".join(b"." + line if line.startswith(b".") else line for line in lines)
    return stuffed if stuffed.endswith(b"\r\n") else stuffed + b"\r\n"
