"""Temporal client set-up: one factory, so every client uses the pydantic data converter."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.common import SearchAttributeKey
from temporalio.contrib.pydantic import pydantic_data_converter

from starter.settings import Settings

# Custom search attributes (no PII): registered on the dev server by `leadflow up` and the tests.
LEAD_STAGE = SearchAttributeKey.for_keyword("LeadStage")
LEAD_TRACK = SearchAttributeKey.for_keyword("LeadTrack")
LEAD_QUEUE = SearchAttributeKey.for_keyword("LeadQueue")
LEAD_SCORE = SearchAttributeKey.for_int("LeadScore")
SEARCH_ATTRIBUTES = (LEAD_STAGE, LEAD_TRACK, LEAD_QUEUE, LEAD_SCORE)


async def connect(settings: Settings) -> Client:
    """Connect to the configured Temporal server."""
    return await Client.connect(
        settings.resolved_temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=pydantic_data_converter,
    )
