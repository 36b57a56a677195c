"""The lifecycle state machine: every allowed move, and nothing else (a refused move is logged)."""

from __future__ import annotations

from models.lead_state import Stage

S = Stage
# Opting out, a compliance hold and disqualification can happen from any working stage.
_ANYTIME = {S.OPTED_OUT, S.COMPLIANCE_HOLD, S.DISQUALIFIED}

ALLOWED: dict[Stage, frozenset[Stage]] = {
    S.NEW: frozenset({S.ENGAGED, S.NURTURING, S.MQL, *_ANYTIME}),
    S.ENGAGED: frozenset({S.NURTURING, S.MQL, *_ANYTIME}),
    S.NURTURING: frozenset({S.ENGAGED, S.MQL, *_ANYTIME}),
    S.MQL: frozenset({S.HANDED_OFF, S.NURTURING, S.MEETING_SET, *_ANYTIME}),
    S.HANDED_OFF: frozenset({S.SALES_ACCEPTED, S.RECYCLED, S.MEETING_SET, *_ANYTIME}),
    S.SALES_ACCEPTED: frozenset({S.MEETING_SET, S.CLOSED, S.RECYCLED, *_ANYTIME}),
    S.MEETING_SET: frozenset({S.CLOSED, S.RECYCLED, S.OPTED_OUT, S.COMPLIANCE_HOLD}),
    S.CLOSED: frozenset({S.RECYCLED, S.OPTED_OUT}),
    S.RECYCLED: frozenset({S.NURTURING, S.ENGAGED, S.MQL, *_ANYTIME}),
    S.DISQUALIFIED: frozenset({S.RECYCLED, S.OPTED_OUT}),
    # Leaving opted_out needs fresh consent (the engine only asks then), and returns the lead
    # to where it stood: nurture, or the sales stage it had reached.
    S.OPTED_OUT: frozenset(
        {
            S.ENGAGED,
            S.NURTURING,
            S.HANDED_OFF,
            S.SALES_ACCEPTED,
            S.MEETING_SET,
            S.CLOSED,
            S.RECYCLED,
            S.DISQUALIFIED,
        }
    ),
    S.COMPLIANCE_HOLD: frozenset(
        {
            S.NEW,
            S.ENGAGED,
            S.NURTURING,
            S.HANDED_OFF,
            S.RECYCLED,
            S.DISQUALIFIED,
            S.OPTED_OUT,
        }
    ),
    S.MEDICAL_INQUIRY: frozenset({S.ENGAGED, S.NURTURING, S.OPTED_OUT, S.COMPLIANCE_HOLD}),
}

# Stages in which the lead is in marketing's hands and nurture email may go out.
NURTURE_STAGES = frozenset({S.NEW, S.ENGAGED, S.NURTURING, S.MQL, S.RECYCLED})


def can_move(current: Stage, target: Stage) -> bool:
    return target in ALLOWED[current]
