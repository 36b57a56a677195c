"""The HTTP API in the test's own process, and the keys it is called with."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from starter.auth import KeyRing

OPS_KEY = "test-ops-key"
READ_ONLY_KEY = "test-read-only-key"


def ops_keyring() -> KeyRing:
    """An operations key that sends events and reads leads, and a read-only dashboard key."""
    ring = KeyRing()
    ring.add("ops", OPS_KEY, ("events:write", "leads:read"))
    ring.add("dashboard", READ_ONLY_KEY, ("leads:read",))
    return ring


def api_client(app: FastAPI, key: str) -> httpx.AsyncClient:
    """A client of `app` (no network between them) that sends `key` as its bearer token."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://leadflow.test",
        headers={"Authorization": f"Bearer {key}"},
    )
