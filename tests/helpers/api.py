"""The HTTP API in the test's own process."""

from __future__ import annotations

import httpx
from fastapi import FastAPI


def api_client(app: FastAPI, key: str) -> httpx.AsyncClient:
    """A client of `app` (no network between them) that sends `key` as its bearer token."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://leadflow.test",
        headers={"Authorization": f"Bearer {key}"},
    )
