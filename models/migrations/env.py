"""Alembic environment: runs on the database Leadflow hands over in `config.attributes`."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import models.data_keys  # noqa: F401  (registers the tables on SQLModel.metadata)
import models.tables  # noqa: F401

db = context.config.attributes["db"]
with db.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=SQLModel.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
