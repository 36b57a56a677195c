"""Custom search attributes of lead workflows: no PII, so ops can list leads by stage."""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

LEAD_STAGE = SearchAttributeKey.for_keyword("LeadStage")
LEAD_TRACK = SearchAttributeKey.for_keyword("LeadTrack")
LEAD_QUEUE = SearchAttributeKey.for_keyword("LeadQueue")
LEAD_SCORE = SearchAttributeKey.for_int("LeadScore")
SEARCH_ATTRIBUTES = (LEAD_STAGE, LEAD_TRACK, LEAD_QUEUE, LEAD_SCORE)
