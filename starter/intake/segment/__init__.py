"""Segment-spec intake: Segment and RudderStack messages delivered as Leadflow events.

A Segment or RudderStack client works unchanged with its host set to `http://<api>/segment`.
The write key is a Leadflow API key with the `events:write` scope, sent as the HTTP Basic user
(password empty) or as `writeKey` in the body. Each message is converted to the Leadflow
envelope and goes through the same `Intake` as `POST /v1/events`.

Segment clients look only at the HTTP status (they retry 429 and 5xx), so a processed batch is
answered 200 with one result per message: `accepted`, `duplicate`, `rejected` (each bad field
named, in Segment's terms) or `ignored` (a call that carries no lead event, or an unmapped
`track` name under `segment.unmapped: record`, see models/segment_mapping.py). Errors that stop
the whole request are `{"code", "message"}`, the shape Segment clients report.

Segment `userId` / `anonymousId` values are linked (hashed) to the lead the first time they
arrive with an email, NPI or CRM id, so later calls carrying only the id reach the same lead.
"""

from starter.intake.segment.convert import Converted, SegmentIgnored, Skipped, convert
from starter.intake.segment.deliver import SegmentAnswer, SegmentResult, submit_messages
from starter.intake.segment.links import known_identifiers, link, record_unmapped
from starter.intake.segment.request import (
    RequestRefused,
    authorize,
    decode_body,
    header_key,
    parse_messages,
    too_large,
)

__all__ = [
    "Converted",
    "RequestRefused",
    "SegmentAnswer",
    "SegmentIgnored",
    "SegmentResult",
    "Skipped",
    "authorize",
    "convert",
    "decode_body",
    "header_key",
    "known_identifiers",
    "link",
    "parse_messages",
    "record_unmapped",
    "submit_messages",
    "too_large",
]
