"""Identity and outbox tables, on SQLite and PostgreSQL."""

from concurrent.futures import ThreadPoolExecutor

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from models.db import migrate
from models.events import LeadProfile
from models.tables import Lead
from starter.identity import resolve_lead


def _profile(**fields: str) -> LeadProfile:
    return LeadProfile.model_validate(fields)


def test_migrations_create_the_schema_and_are_repeatable(db: Engine) -> None:
    migrate(db)  # a second start-up on the same database changes nothing
    tables = set(sa.inspect(db).get_table_names())
    assert {"lead", "outbox_message", "alembic_version"} <= tables


def test_same_person_resolves_to_one_lead(db: Engine) -> None:
    with Session(db) as session:
        first = resolve_lead(session, _profile(email="dr.kim@clinic.example"))
        again = resolve_lead(session, _profile(email="DR.KIM@clinic.example"))
        other = resolve_lead(session, _profile(email="dr.lee@clinic.example"))
    assert first == again != other
    assert first.startswith("ld_") and "kim" not in first


def test_npi_links_before_email_and_fills_gaps(db: Engine) -> None:
    with Session(db) as session:
        lead_id = resolve_lead(session, _profile(npi="1234567893"))
        same = resolve_lead(
            session, _profile(npi="1234567893", email="x@clinic.example", first_name="Jo")
        )
        stored = session.get(Lead, lead_id)
    assert same == lead_id
    assert stored is not None and (stored.email, stored.first_name) == ("x@clinic.example", "Jo")


def test_concurrent_first_events_create_exactly_one_lead(db: Engine) -> None:
    def resolve(_: int) -> str:
        with Session(db) as session:
            return resolve_lead(session, _profile(email="race@clinic.example"))

    with ThreadPoolExecutor(8) as pool:
        lead_ids = set(pool.map(resolve, range(16)))
    with Session(db) as session:
        rows = session.exec(select(Lead).where(Lead.email == "race@clinic.example")).all()
    assert len(lead_ids) == 1 and len(rows) == 1
