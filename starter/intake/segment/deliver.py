"""Segment messages delivered through `Intake`, one result per message, in order."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from models.events import EventRejected, EventResult
from models.segment_mapping import SegmentMapping
from starter.identity import IdentityConflict
from starter.intake.deliver import Intake
from starter.intake.segment.convert import (
    Converted,
    SegmentIgnored,
    Skipped,
    convert,
    has_identifier,
    unidentified,
    validated,
)
from starter.intake.segment.links import known_identifiers, link, record_unmapped

SegmentResult = EventResult | EventRejected | SegmentIgnored


class SegmentAnswer(BaseModel):
    """The 200 answer: one result per message, in order."""

    success: bool = True
    results: list[SegmentResult]


async def submit_messages(
    intake: Intake, mapping: SegmentMapping, messages: list[Any], sent_at: Any, *, batch: bool
) -> list[SegmentResult]:
    """Convert each message with the program's mapping and deliver it; errors are named by
    their place in the batch (`batch.3.traits.email`) when `batch` is true."""
    results: list[SegmentResult] = []
    received_at = datetime.now(UTC)
    for index, message in enumerate(messages):
        prefix = f"batch.{index}." if batch else ""
        converted = convert(
            message, mapping, prefix=prefix, sent_at=sent_at, received_at=received_at
        )
        results.append(await _deliver(intake, converted, prefix))
    return results


async def _deliver(intake: Intake, converted: Converted | Skipped, prefix: str) -> SegmentResult:
    db = intake.db
    if isinstance(converted, Skipped):
        if converted.record_name is not None:
            await asyncio.to_thread(
                record_unmapped, db, converted.result.event_id, converted.record_name
            )
        return converted.result
    if not has_identifier(converted):
        known = await asyncio.to_thread(known_identifiers, db, converted.source_ids)
        if not known:
            return unidentified(converted, prefix)
        converted.envelope["lead"] |= known
    event = validated(converted, prefix)
    if isinstance(event, EventRejected):
        return event
    try:
        [result] = await intake.submit([event])
    except IdentityConflict as err:
        problem = {"field": f"{prefix}traits", "message": str(err).removeprefix("lead: ")}
        return EventRejected(event_id=event.event_id, errors=[problem])
    await asyncio.to_thread(link, db, converted.source_ids, result.lead_id)
    return result
