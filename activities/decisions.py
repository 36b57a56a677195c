"""Archiving a run's decision log before continue-as-new, so the log is complete across runs."""

from __future__ import annotations

import json

from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from temporalio import activity

from models.lead import ARCHIVE_DECISIONS, ArchiveDecisionsInput, ArchiveDecisionsResult, Decision
from models.tables import DecisionLogEntry


class DecisionArchive:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @activity.defn(name=ARCHIVE_DECISIONS)
    def archive_decisions(self, request: ArchiveDecisionsInput) -> ArchiveDecisionsResult:
        """Insert decisions not yet archived (idempotent by lead and sequence number)."""
        with Session(self._engine) as session:
            known = set(
                session.exec(
                    select(DecisionLogEntry.seq).where(DecisionLogEntry.lead_id == request.lead_id)
                ).all()
            )
            fresh = [d for d in request.decisions if d.seq not in known]
            session.add_all(
                DecisionLogEntry(
                    lead_id=request.lead_id,
                    seq=d.seq,
                    at=d.at,
                    trigger=d.trigger,
                    rule_id=d.rule_id,
                    program_version=d.program_version,
                    inputs=json.dumps(d.inputs, sort_keys=True),
                    outcome=d.outcome,
                )
                for d in fresh
            )
            session.commit()
        return ArchiveDecisionsResult(archived=len(fresh))


def archived_decisions(engine: Engine, lead_id: str) -> list[Decision]:
    """Every archived decision of a lead, in order."""
    with Session(engine) as session:
        rows = session.exec(
            select(DecisionLogEntry)
            .where(DecisionLogEntry.lead_id == lead_id)
            .order_by(DecisionLogEntry.seq)  # type: ignore[arg-type]
        ).all()
    return [
        Decision(
            seq=row.seq,
            at=row.at,
            trigger=row.trigger,
            rule_id=row.rule_id,
            program_version=row.program_version,
            inputs=json.loads(row.inputs),
            outcome=row.outcome,
        )
        for row in rows
    ]
