"""Event intake: parse at the edge, prepare in the database, deliver to the lead's workflow.

`Intake` is the one service the API, the Segment endpoints, CSV import and the tests use.
"""

from starter.intake.deliver import Intake
from starter.intake.parse import (
    MAX_BATCH,
    MAX_BODY_BYTES,
    EventPayloadError,
    ParsedBody,
    parse_body,
    parse_events,
    validate_event,
)
from starter.intake.prepare import IntakeRules

__all__ = [
    "MAX_BATCH",
    "MAX_BODY_BYTES",
    "EventPayloadError",
    "Intake",
    "IntakeRules",
    "ParsedBody",
    "parse_body",
    "parse_events",
    "validate_event",
]
