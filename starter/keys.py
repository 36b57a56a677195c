"""API keys kept in the database, hashed: created, listed and revoked from the CLI."""

from __future__ import annotations

import json
import secrets

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from models.tables import ApiKeyRecord, utcnow
from starter.auth import SCOPES, KeyHolder, KeyRing, hash_key


class KeyRequestError(ValueError):
    """A key request that cannot be carried out (unknown scope, name taken, no such key)."""


def create_key(db: Engine, name: str, scopes: list[str]) -> str:
    """Store a new key's hash and return the key itself (shown once, never stored)."""
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise KeyRequestError(
            f"scopes must be some of {', '.join(SCOPES)} (got {', '.join(unknown)})"
        )
    key = f"lf_{secrets.token_urlsafe(32)}"
    with Session(db) as session:
        session.add(
            ApiKeyRecord(
                name=name,
                key_hash=hash_key(key),
                scopes=json.dumps(sorted(scopes)),
                created_at=utcnow(),
            )
        )
        try:
            session.commit()
        except IntegrityError as err:
            raise KeyRequestError(
                f"a key named {name!r} exists; revoke it or pick another name"
            ) from err
    return key


def revoke_key(db: Engine, name: str) -> None:
    with Session(db) as session:
        row = session.exec(select(ApiKeyRecord).where(ApiKeyRecord.name == name)).first()
        if row is None:
            raise KeyRequestError(f"no key named {name!r}")
        if row.revoked_at is None:
            row.revoked_at = utcnow()
            session.add(row)
            session.commit()


def list_keys(db: Engine) -> list[ApiKeyRecord]:
    with Session(db) as session:
        return list(session.exec(select(ApiKeyRecord).order_by(col(ApiKeyRecord.name))).all())


def stored_holder(db: Engine, key: str) -> KeyHolder | None:
    """The holder of a stored, unrevoked key (looked up by hash)."""
    with Session(db) as session:
        row = session.exec(
            select(ApiKeyRecord).where(
                ApiKeyRecord.key_hash == hash_key(key), col(ApiKeyRecord.revoked_at).is_(None)
            )
        ).first()
    if row is None:
        return None
    return KeyHolder(name=row.name, scopes=frozenset(json.loads(row.scopes)))


def key_holder(keyring: KeyRing, db: Engine, key: str) -> KeyHolder | None:
    """Who holds `key`: a bootstrap key first, then a stored one (None: unknown or revoked)."""
    return keyring.holder(key) or stored_holder(db, key)
