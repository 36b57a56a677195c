"""A test installation's paths and payload data keys, shared by its worker, API and CLI."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from leadflow_domain.payload_crypto import DataKeyStore
from models.db import connect_db
from starter.settings import Settings


def installation(root: Path) -> dict[str, Any]:
    """Where an installation under `root` keeps its database and data dir (master key)."""
    return {"database_url": f"sqlite:///{root / 'leadflow.db'}", "data_dir": root / "data"}


@contextlib.contextmanager
def data_keys(settings: Settings) -> Iterator[DataKeyStore]:
    keys_db = connect_db(settings.resolved_database_url)
    yield DataKeyStore(keys_db, settings.resolved_master_key())
    keys_db.dispose()
