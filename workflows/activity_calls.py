"""How the lead's workflow and its helpers run an activity: the usual timeout and retries
(sends and program reloads have their own)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy

ACTIVITY_TIMEOUT = timedelta(seconds=30)
ACTIVITY_RETRY = RetryPolicy(maximum_interval=timedelta(minutes=1))

RequestT = TypeVar("RequestT")
ResultT = TypeVar("ResultT")


async def execute(activity: Callable[[Any, RequestT], ResultT], request: RequestT) -> ResultT:
    """Run an activity method with the lead's usual timeout and retries (sends have their own)."""
    return await workflow.execute_activity_method(
        activity, request, start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=ACTIVITY_RETRY
    )
