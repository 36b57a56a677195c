"""Sending approved content by email, at most once per touch, recorded in the outbox."""

from __future__ import annotations

import hashlib
import smtplib
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from pathlib import Path

import structlog
from jinja2 import StrictUndefined
from jinja2.sandbox import SandboxedEnvironment
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select
from temporalio import activity

from models.lead import SEND_TOUCH, SendTouchInput, SendTouchResult
from models.program import Asset, Program, ProgramError, load_program
from models.tables import Lead, OutboxMessage, utcnow

log = structlog.get_logger(__name__)


def activity_log(lead_id: str) -> structlog.typing.FilteringBoundLogger:
    """A logger bound to the calling workflow and lead (opaque ids only, never PII)."""
    info = activity.info()
    return log.bind(  # type: ignore[no-any-return]
        workflow_id=info.workflow_id, run_id=info.workflow_run_id, lead_id=lead_id
    )


_templates = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)


@dataclass(frozen=True)
class SmtpTarget:
    host: str
    port: int
    timeout_seconds: float = 30.0


def message_id_for(idempotency_key: str) -> str:
    """A stable Message-ID for one touch, so a resend is recognisable as the same message."""
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]
    return f"<{digest}@leadflow.local>"


def salutation(lead: Lead) -> str:
    name = " ".join(part for part in (lead.first_name, lead.last_name) if part)
    return name or "colleague"


def render_email(program: Program, asset: Asset, lead: Lead, message_id: str) -> EmailMessage:
    """Build the email for one asset: approved text, ISI, sender identity and postal address."""
    context = {"salutation": salutation(lead)}
    parts = [_templates.from_string(asset.body).render(context).rstrip()]
    if asset.isi:
        parts.append(asset.isi.rstrip())
    parts.append(
        f"{program.sender.name}\n{program.sender.postal_address}\n"
        f"{asset.approval_id} · approved {asset.approval_date.isoformat()}"
    )
    message = EmailMessage()
    message["From"] = formataddr((program.sender.name, program.sender.address))
    message["To"] = lead.email or ""
    message["Subject"] = _templates.from_string(asset.subject).render(context)
    message["Message-ID"] = message_id
    message["Date"] = format_datetime(datetime.now(UTC))
    message["List-Unsubscribe"] = f"<mailto:{program.sender.address}?subject=unsubscribe>"
    message["X-Leadflow-Asset"] = f"{asset.id};version={asset.version}"
    message.set_content("\n\n".join(parts) + "\n")
    return message


class MessagingActivities:
    """Email through SMTP; the outbox table makes each touch idempotent."""

    def __init__(self, engine: Engine, smtp: SmtpTarget, program_path: Path) -> None:
        self._engine = engine
        self._smtp = smtp
        self._program_path = program_path

    @activity.defn(name=SEND_TOUCH)
    def send_touch(self, request: SendTouchInput) -> SendTouchResult:
        """Re-check the asset at send time, record the send, then send it (once)."""
        try:
            program = load_program(self._program_path)
        except ProgramError as err:
            # Approval status cannot be re-checked against a broken catalog: do not send.
            return SendTouchResult(
                status="blocked", asset_id=request.asset_id, reason=f"program unusable: {err}"
            )
        asset = program.asset(request.asset_id)
        blocked = self._blocked_reason(asset)
        if blocked or asset is None:
            return SendTouchResult(status="blocked", asset_id=request.asset_id, reason=blocked)
        with Session(self._engine) as session:
            lead = session.get(Lead, request.lead_id)
            if lead is None or not lead.email:
                return SendTouchResult(
                    status="blocked", asset_id=asset.id, reason="no email address on file"
                )
            row = self._claim_outbox_row(session, request, program, asset, lead)
            if row.status != "sent":
                email = render_email(program, asset, lead, row.message_id)
                self._deliver(email)
                row.status = "sent"
                row.sent_at = utcnow()
                session.add(row)
                session.commit()
            activity_log(request.lead_id).info(
                "touch sent",
                touch_id=request.touch_id,
                asset_id=asset.id,
                asset_version=asset.version,
            )
            return SendTouchResult(
                status="sent",
                asset_id=asset.id,
                asset_version=row.asset_version,
                message_id=row.message_id,
            )

    @staticmethod
    def _blocked_reason(asset: Asset | None) -> str | None:
        if asset is None:
            return "asset is not in the program's catalog"
        return asset.sendable_on(datetime.now(UTC).date())

    @staticmethod
    def _claim_outbox_row(
        session: Session, request: SendTouchInput, program: Program, asset: Asset, lead: Lead
    ) -> OutboxMessage:
        """The outbox row for this touch: written before sending, found again on a retry."""
        key = f"{request.lead_id}:{request.touch_id}"
        existing = session.exec(
            select(OutboxMessage).where(OutboxMessage.idempotency_key == key)
        ).first()
        if existing:
            return existing
        row = OutboxMessage(
            idempotency_key=key,
            lead_id=request.lead_id,
            touch_id=request.touch_id,
            asset_id=asset.id,
            asset_version=asset.version,
            program_version=program.version,
            trigger=request.trigger,
            message_id=message_id_for(key),
            subject=asset.subject,
            recipient=lead.email or "",
            status="sending",
            created_at=utcnow(),
        )
        session.add(row)
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
            return session.exec(
                select(OutboxMessage).where(OutboxMessage.idempotency_key == key)
            ).one()
        session.refresh(row)
        return row

    def _deliver(self, email: EmailMessage) -> None:
        with smtplib.SMTP(
            self._smtp.host, self._smtp.port, timeout=self._smtp.timeout_seconds
        ) as smtp:
            smtp.send_message(email)
