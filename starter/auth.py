"""Bearer API keys with scopes."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

SCOPES = ("events:write", "leads:read", "sales:act", "compliance:act", "codec:decode")


@dataclass(frozen=True)
class KeyHolder:
    """Who is calling: the key's name is recorded as the actor of what it does."""

    name: str
    scopes: frozenset[str]


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class KeyRing:
    """The keys the API accepts, held only as hashes."""

    def __init__(self) -> None:
        self._holders: dict[str, KeyHolder] = {}

    def add(self, name: str, key: str, scopes: list[str] | tuple[str, ...]) -> None:
        unknown = set(scopes) - set(SCOPES)
        if unknown:
            raise ValueError(f"API key {name!r}: unknown scopes {sorted(unknown)}")
        self._holders[hash_key(key)] = KeyHolder(name=name, scopes=frozenset(scopes))

    def holder(self, key: str) -> KeyHolder | None:
        digest = hash_key(key)
        for known, holder in self._holders.items():
            if hmac.compare_digest(known, digest):
                return holder
        return None
