"""`/v1/unsubscribe`: the page an email's unsubscribe link opens, and the one click."""

from __future__ import annotations

from html import escape as html_escape
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import HTMLResponse

from leadflow_domain.tokens import lead_for_token
from starter.api.deps import IntakeDep, SettingsDep
from starter.settings import Settings

router = APIRouter(prefix="/v1/unsubscribe", tags=["recipients"])

Token = Annotated[str, Query(max_length=300)]

UNSUBSCRIBE_PAGE = """<!doctype html><html><body>
<h1>Unsubscribe</h1><p>Stop receiving these emails?</p>
<form method="post" action="/v1/unsubscribe?token={token}">
<button type="submit">Unsubscribe</button></form></body></html>"""
UNSUBSCRIBED_PAGE = """<!doctype html><html><body>
<h1>You are unsubscribed</h1><p>You will receive no further promotional email from us.</p>
</body></html>"""


@router.get("", response_class=HTMLResponse)
def unsubscribe_page(settings: SettingsDep, token: Token) -> str:
    """The page an email's unsubscribe link opens: one button, no login."""
    _lead_for(settings, token)
    return UNSUBSCRIBE_PAGE.format(token=html_escape(token))


@router.post("", response_class=HTMLResponse)
async def unsubscribe(settings: SettingsDep, intake: IntakeDep, token: Token) -> str:
    """One-click unsubscribe (RFC 8058): recorded in the consent ledger and sent to the
    lead as a `consent_withdrawn` event; promotional email stops at once."""
    await intake.withdraw_by_link(_lead_for(settings, token))
    return UNSUBSCRIBED_PAGE


def _lead_for(settings: Settings, token: str) -> str:
    lead_id = lead_for_token(settings.resolved_signing_key(), token)
    if lead_id is None:
        raise HTTPException(400, "this unsubscribe link is not valid; reply to the email instead")
    return lead_id
