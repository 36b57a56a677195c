"""structlog set-up: pretty in a terminal, JSON lines otherwise; never personal data.

Logs are kept and shipped where personal data may not go, so two nets catch what code might
let slip: a structlog processor that masks fields named like personal data, and a filter on the
HTTP access log that masks query-string values (`?email=...`, unsubscribe tokens).
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

REDACTED = "[redacted]"
# Field names that hold personal data or free text wherever they appear in a log call.
PERSONAL_FIELDS = frozenset(
    {
        "email",
        "npi",
        "crm_id",
        "first_name",
        "last_name",
        "phone",
        "postal_code",
        "comment",
        "text",
        "note",
        "recipient",
    }
)
_QUERY_VALUE = re.compile(r"=[^&#\s]*")

_configured = False


def configure_logging(level: int = logging.INFO, *, json: bool | None = None) -> None:
    """Configure structlog and stdlib logging once per process.

    Args:
        level: minimum level logged.
        json: force JSON (True) or console (False) rendering; default is JSON unless
            stderr is a terminal.
    """
    global _configured
    if _configured:
        return
    _configured = True
    if json is None:
        json = not sys.stderr.isatty()
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            mask_personal_fields,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    logging.basicConfig(level=max(level, logging.WARNING), stream=sys.stderr)
    redact_access_log()


def mask_personal_fields(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """A structlog processor: values of fields named like personal data are masked."""
    for name in PERSONAL_FIELDS.intersection(event):
        event[name] = REDACTED
    return event


def redacted_path(path: str) -> str:
    """A request path with every query-string value masked (the names stay, for debugging)."""
    route, question, query = path.partition("?")
    return route + question + _QUERY_VALUE.sub("=" + REDACTED, query) if question else path


class RedactQueryStrings(logging.Filter):
    """Masks the query string of uvicorn's access log lines (`?email=...`, `?token=...`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str):
            record.args = (args[0], args[1], redacted_path(args[2]), args[3], args[4])
        return True


def redact_access_log() -> None:
    """Install the access-log filter once (uvicorn's own logging set-up keeps it)."""
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactQueryStrings) for f in access.filters):
        access.addFilter(RedactQueryStrings())
