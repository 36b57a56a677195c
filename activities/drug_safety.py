"""Drug safety forwarding: screened cases emailed to drug safety on time, late ones escalated."""

from __future__ import annotations

import json
from pathlib import Path

import structlog
from sqlalchemy.engine import Engine
from sqlmodel import Session
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.messaging import SmtpTarget, send_notice
from models.compliance_rules import SafetyContacts
from models.lead_state import CaseActionInput, CaseActionResult
from models.program import load_program
from models.tables import ScreeningCase, utcnow

log = structlog.get_logger(__name__)


class SafetyActivities:
    """Forwarding cases to drug safety by email, and escalating late ones."""

    def __init__(self, db: Engine, smtp: SmtpTarget, program_path: Path) -> None:
        self._db = db
        self._smtp = smtp
        self._program_path = program_path

    @activity.defn(name="forward_case")
    def forward_case(self, request: CaseActionInput) -> CaseActionResult:
        """Send the full report to the drug safety mailbox (once) and record when."""
        with Session(self._db) as session:
            case = self._case(session, request.case_ref)
            if case.forwarded_at is None:
                contacts = self._contacts()
                elements = json.loads(case.minimum_elements)
                due = case.forward_by.isoformat() if case.forward_by else "n/a"
                lines = [
                    f"Case {case.case_ref} ({case.route}), aware {case.awareness_at.isoformat()}",
                    f"Forward by: {due}",
                    "Minimum elements: "
                    + ", ".join(f"{k}={'yes' if v else 'no'}" for k, v in elements.items()),
                    f"Lead reference: {case.lead_id} (contact details in the lead record)",
                    "",
                    *(f"{field}:\n{text}\n" for field, text in json.loads(case.texts).items()),
                ]
                self._send(
                    contacts.drug_safety_mailbox, f"Possible adverse event {case.case_ref}", lines
                )
                case.forwarded_at = utcnow()
                case.status = "forwarded"
                session.add(case)
                session.commit()
            log.info("safety case forwarded", case_ref=case.case_ref, lead_id=case.lead_id)
            assert case.forwarded_at is not None
            return CaseActionResult(
                case_ref=case.case_ref, status=case.status, at=case.forwarded_at
            )

    @activity.defn(name="escalate_case")
    def escalate_case(self, request: CaseActionInput) -> CaseActionResult:
        """The forwarding deadline passed: alert the escalation mailbox (reference only)."""
        with Session(self._db) as session:
            case = self._case(session, request.case_ref)
            if case.escalated_at is None:
                self._send(
                    self._contacts().escalation_mailbox,
                    f"OVERDUE: safety case {case.case_ref} not forwarded in time",
                    [
                        f"Case {case.case_ref} was due at drug safety by "
                        f"{case.forward_by.isoformat() if case.forward_by else 'n/a'}.",
                        "Forwarding is still being retried; please follow up.",
                    ],
                )
                case.escalated_at = utcnow()
                if case.forwarded_at is None:
                    case.status = "escalated"
                session.add(case)
                session.commit()
            assert case.escalated_at is not None
            return CaseActionResult(
                case_ref=case.case_ref, status=case.status, at=case.escalated_at
            )

    @staticmethod
    def _case(session: Session, case_ref: str) -> ScreeningCase:
        case = session.get(ScreeningCase, case_ref)
        if case is None:
            raise ApplicationError(f"no case {case_ref}", type="UnknownCase", non_retryable=True)
        return case

    def _contacts(self) -> SafetyContacts:
        contacts = load_program(self._program_path).safety_contacts
        if contacts is None:
            raise ApplicationError(
                "the program names no drug safety mailbox", type="NoSafetyContacts"
            )
        return contacts

    def _send(self, to: str, subject: str, lines: list[str]) -> None:
        send_notice(self._smtp, "leadflow-safety@leadflow.local", to, subject, lines)
