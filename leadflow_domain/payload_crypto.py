"""AES-256-GCM for Temporal payloads, and the store of per-lead data keys it encrypts with.

Each lead gets a random 32-byte data key, kept in the database wrapped (AES-GCM) by the master
key. Destroying a lead's data key makes every copy of its payloads unreadable, in every history
and backup (crypto-shredding). Leads without context share one "system" data key."""

from __future__ import annotations

import os
import secrets
import threading
from collections import OrderedDict
from datetime import UTC, datetime

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from models.data_keys import LeadDataKey
from models.db import migrate

KEY_BYTES = 32
NONCE_BYTES = 12
CACHED_KEYS = 10_000


class DataKeyUnavailable(Exception):
    """A payload names a data key this installation cannot use (destroyed, unknown, or wrapped
    by another master key); raised rather than handing back undecryptable bytes."""

    def __init__(self, key_id: str, why: str = "destroyed or unknown") -> None:
        super().__init__(f"data key {key_id} {why}")
        self.key_id = key_id


def seal(key: bytes, plaintext: bytes, associated: bytes) -> bytes:
    """Nonce and AES-256-GCM ciphertext; `associated` (the key id) is authenticated, so a
    payload whose key id metadata was swapped fails instead of decrypting under another key."""
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, associated)


def unseal(key: bytes, sealed: bytes, associated: bytes) -> bytes:
    """The plaintext of `seal`'s output; `InvalidTag` when key, data or `associated` differ."""
    return AESGCM(key).decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], associated)


class _Bounded(OrderedDict[str, bytes]):
    """A least-recently-used map with a size bound (keys of long-gone leads fall out)."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def get_recent(self, name: str) -> bytes | None:
        found = self.get(name)
        if found is not None:
            self.move_to_end(name)
        return found

    def keep(self, name: str, value: bytes) -> None:
        self[name] = value
        self.move_to_end(name)
        while len(self) > self.size:
            self.popitem(last=False)


SYSTEM_SCOPE = "system"


class DataKeyStore:
    """Data keys in the `lead_data_key` table, unwrapped on first use and cached in memory."""

    def __init__(self, db: Engine, master_key: bytes, cache_size: int = CACHED_KEYS) -> None:
        if len(master_key) != KEY_BYTES:
            raise ValueError("the master key must be 32 bytes")
        self._db = db
        self._master = master_key
        self._keys = _Bounded(cache_size)  # key id -> data key
        self._current = _Bounded(cache_size)  # lead id or SYSTEM_SCOPE -> key id (as bytes)
        self._lock = threading.Lock()
        self._migrated = False

    @property
    def cached_keys(self) -> int:
        """How many data keys are held unwrapped in memory (at most the cache size)."""
        return len(self._keys)

    def cached_current_key(self, lead_id: str | None) -> tuple[str, bytes] | None:
        """The key to encrypt the lead's payloads with, if known without the database."""
        with self._lock:
            key_id = self._current.get_recent(lead_id or SYSTEM_SCOPE)
            if key_id is None:
                return None
            key = self._keys.get_recent(key_id.decode())
        return None if key is None else (key_id.decode(), key)

    def current_key(self, lead_id: str | None) -> tuple[str, bytes]:
        """The key to encrypt the lead's payloads with (the system key for None), made on the
        lead's first payload. Raises `DataKeyUnavailable` for a lead whose key was destroyed,
        so nothing new about an erased person is stored readable."""
        found = self.cached_current_key(lead_id)
        if found is not None:
            return found
        with self._lock, Session(self._schema()) as session:
            rows = self._lead_rows(session, lead_id)
            if not rows:
                session.add(self._new_row(lead_id))
                session.commit()
                # Another process may have made one at the same moment: all agree on the oldest.
                rows = self._lead_rows(session, lead_id)
            live = [row for row in rows if row.destroyed_at is None]
            if not live:
                raise DataKeyUnavailable(rows[0].key_id, "destroyed (the lead was erased)")
            key = self._unwrap(live[0])
            self._current.keep(lead_id or SYSTEM_SCOPE, live[0].key_id.encode())
            self._keys.keep(live[0].key_id, key)
            return live[0].key_id, key

    def cached_key(self, key_id: str) -> bytes | None:
        with self._lock:
            return self._keys.get_recent(key_id)

    def key(self, key_id: str) -> bytes:
        """The data key `key_id`; `DataKeyUnavailable` if destroyed or never made here."""
        found = self.cached_key(key_id)
        if found is not None:
            return found
        with self._lock, Session(self._schema()) as session:
            row = session.get(LeadDataKey, key_id)
            if row is None or row.destroyed_at is not None:
                raise DataKeyUnavailable(key_id)
            key = self._unwrap(row)
            self._keys.keep(key_id, key)
            return key

    def lead_erased(self, lead_id: str) -> bool:
        """Whether the lead's data keys were destroyed: it was erased."""
        with self._lock, Session(self._schema()) as session:
            rows = self._lead_rows(session, lead_id)
        return bool(rows) and all(row.destroyed_at is not None for row in rows)

    def destroy_lead_keys(self, lead_id: str) -> int:
        """Destroy every data key of the lead (crypto-shredding); returns how many."""
        with self._lock, Session(self._schema()) as session:
            rows = [row for row in self._lead_rows(session, lead_id) if row.destroyed_at is None]
            for row in rows:
                row.wrapped_key = b""
                row.destroyed_at = datetime.now(UTC)
                session.add(row)
                self._keys.pop(row.key_id, None)
            session.commit()
            self._current.pop(lead_id, None)
            return len(rows)

    def _schema(self) -> Engine:
        # Clients (CLI, API) may run before the worker has migrated the database.
        if not self._migrated:
            migrate(self._db)
            self._migrated = True
        return self._db

    @staticmethod
    def _lead_rows(session: Session, lead_id: str | None) -> list[LeadDataKey]:
        query = select(LeadDataKey).where(
            col(LeadDataKey.lead_id).is_(None)
            if lead_id is None
            else col(LeadDataKey.lead_id) == lead_id
        )
        return list(
            session.exec(query.order_by(col(LeadDataKey.created_at), col(LeadDataKey.key_id)))
        )

    def _new_row(self, lead_id: str | None) -> LeadDataKey:
        key_id = f"dk_{secrets.token_hex(12)}"
        wrapped = seal(self._master, secrets.token_bytes(KEY_BYTES), key_id.encode())
        return LeadDataKey(
            key_id=key_id, lead_id=lead_id, wrapped_key=wrapped, created_at=datetime.now(UTC)
        )

    def _unwrap(self, row: LeadDataKey) -> bytes:
        try:
            return unseal(self._master, row.wrapped_key, row.key_id.encode())
        except InvalidTag:
            raise DataKeyUnavailable(row.key_id, "is wrapped by another master key") from None
