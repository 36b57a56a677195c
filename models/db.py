"""The database (a SQLAlchemy Engine, `db` throughout) and its migrations (Alembic, at start-up)."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine
from sqlmodel import create_engine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def connect_db(url: str) -> Engine:
    """The database for `url`; SQLite gets a busy timeout so several threads can share it."""
    if url.startswith("sqlite"):
        database = sa.engine.make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        return create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
    return create_engine(url, pool_pre_ping=True)


def alembic_config(db: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["db"] = db
    return config


def migrate(db: Engine) -> None:
    """Bring the schema to the newest revision."""
    command.upgrade(alembic_config(db), "head")
