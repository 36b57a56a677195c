"""Archiving a run's decision log before continue-as-new, so the log is complete across runs."""

from __future__ import annotations

import json

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from temporalio import activity

from models.lead import ARCHIVE_DECISIONS, ArchiveDecisionsInput, ArchiveDecisionsResult, Decision
from models.tables import DecisionLogEntry


class DecisionArchive:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @activity.defn(name=ARCHIVE_DECISIONS)
    def archive_decisions(self, request: ArchiveDecisionsInput) -> ArchiveDecisionsResult:
        """Insert decisions not yet archived (idempotent by lead and sequence number)."""
        chain = request.chain or ""
        with Session(self._engine) as session:
            known = set(
                session.exec(
                    select(DecisionLogEntry.seq).where(
                        DecisionLogEntry.lead_id == request.lead_id,
                        DecisionLogEntry.chain == chain,
                    )
                ).all()
            )
            fresh = [d for d in request.decisions if d.seq not in known]
            session.add_all(
                DecisionLogEntry(
                    lead_id=request.lead_id,
                    chain=chain,
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
            .order_by(col(DecisionLogEntry.at), col(DecisionLogEntry.id))
        ).all()
    return [
        Decision(
            seq=row.seq,
            chain=row.chain or None,
            at=row.at,
            trigger=row.trigger,
            rule_id=row.rule_id,
            program_version=row.program_version,
            inputs=json.loads(row.inputs),
            outcome=row.outcome,
        )
        for row in rows
    ]
