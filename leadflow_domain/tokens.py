"""Signed unsubscribe tokens: every commercial email carries a working
one-click unsubscribe link."""

from __future__ import annotations

import base64
import hashlib
import hmac

SIGNATURE_BYTES = 16


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(key: str, payload: bytes) -> bytes:
    return hmac.new(key.encode(), b"unsubscribe:" + payload, hashlib.sha256).digest()[
        :SIGNATURE_BYTES
    ]


def unsubscribe_token(key: str, lead_id: str) -> str:
    payload = lead_id.encode()
    return f"{_b64(payload)}.{_b64(_signature(key, payload))}"


def lead_for_token(key: str, token: str) -> str | None:
    """The lead a token was made for, or None when it is malformed or forged."""
    try:
        payload_part, signature_part = token.split(".", 1)
        payload, signature = _unb64(payload_part), _unb64(signature_part)
    except (ValueError, TypeError):
        return None
    if not hmac.compare_digest(signature, _signature(key, payload)):
        return None
    return payload.decode(errors="replace")
