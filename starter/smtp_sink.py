"""A real local SMTP server (aiosmtpd) that keeps every message it receives."""

from __future__ import annotations

import email
import email.policy
import threading
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import structlog
from aiosmtpd.controller import Controller

from starter.ports import ensure_port_free

log = structlog.get_logger(__name__)


class _MailStore:
    """aiosmtpd handler: each message is parsed, kept in memory and written as an .eml file."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
        self.refused: set[str] = set()
        self.messages: list[EmailMessage] = []
        self._lock = threading.Lock()

    async def handle_RCPT(  # noqa: N802
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if address.lower() in self.refused:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        raw: bytes = envelope.original_content or envelope.content
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        with self._lock:
            self.messages.append(message)
            count = len(self.messages)
        if self.directory is not None:
            self.directory.mkdir(parents=True, exist_ok=True)
            existing = len(list(self.directory.glob("*.eml")))
            (self.directory / f"{existing + 1:06d}.eml").write_bytes(raw)
        log.info("smtp sink received message", messages=count)
        return "250 Message accepted for delivery"


class SmtpSink:
    """Start, read and stop the local SMTP server; messages also land in `directory`."""

    def __init__(self, host: str, port: int, directory: Path | None = None) -> None:
        self.host = host
        self.port = port
        self._store = _MailStore(directory)
        self._controller: Controller | None = None

    def refuse(self, address: str) -> None:
        """Answer 550 to this recipient from now on (a hard bounce at the SMTP stage)."""
        self._store.refused.add(address.lower())

    @property
    def messages(self) -> list[EmailMessage]:
        with self._store._lock:
            return list(self._store.messages)

    def start(self) -> None:
        ensure_port_free(self.host, self.port, "SMTP", "LEADFLOW_SMTP_PORT")
        self._controller = Controller(self._store, hostname=self.host, port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None
