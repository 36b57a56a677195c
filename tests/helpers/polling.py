"""Waiting for asynchronous work by polling, with a deadline instead of a sleep."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from email.message import EmailMessage
from typing import Any

import pytest

from starter.smtp_sink import SmtpSink

DEADLINE_SECONDS = 20.0


async def wait_for_messages(
    sink: SmtpSink, count: int = 1, deadline: float = DEADLINE_SECONDS
) -> list[EmailMessage]:
    """Poll the SMTP server until `count` messages arrived, failing after `deadline` seconds."""
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline
    while len(sink.messages) < count:
        if loop.time() > end:
            pytest.fail(f"expected {count} email(s) within {deadline}s, got {len(sink.messages)}")
        await asyncio.sleep(0.05)
    return sink.messages


async def eventually(check: Callable[[], Any], deadline: float = DEADLINE_SECONDS) -> Any:
    """Poll an async or sync check until it returns something truthy."""
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if loop.time() > end:
            pytest.fail(f"condition not met within {deadline}s")
        await asyncio.sleep(0.05)
