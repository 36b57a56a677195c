"""Archiving a run's decision log before continue-as-new, so the log is complete across runs."""

from __future__ import annotations

import json

from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from temporalio import activity

from models.lead_state import (
    ArchiveDecisionsInput,
    ArchiveDecisionsResult,
)
from models.tables import DecisionLogEntry


class DecisionArchive:
    def __init__(self, db: Engine) -> None:
        self._db = db

    @activity.defn(name="archive_decisions")
    def archive_decisions(self, request: ArchiveDecisionsInput) -> ArchiveDecisionsResult:
        """Insert decisions not yet archived (idempotent by lead and sequence number)."""
        chain = request.chain or ""
        with Session(self._db) as session:
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
