"""`GET /health`: is the API up, and on which task queue."""

from __future__ import annotations

from fastapi import APIRouter

from starter.api.deps import SettingsDep

router = APIRouter(prefix="/health", tags=["ops"])


@router.get("")
async def health(settings: SettingsDep) -> dict[str, str]:
    """Liveness of the API and its connections."""
    return {"status": "ok", "task_queue": settings.task_queue}
