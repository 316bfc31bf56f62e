"""PACT clients and their access tokens (OAuth2 client credentials, PACT v3.0 "Authentication").

A PACT client is a member: its client id is the member's address and its client secret one of the member's API keys
(`clk_...`). A client authenticates once at `/auth/token` and gets an opaque random bearer token that expires
(`TOKEN_LIFETIME`). Tokens are kept only as SHA-256 hashes: in the database for the service
(`ledger_service.footprints.pact_state`, so every process on it accepts them), in memory here (`TokenStore`) for a
host without one. Neither a token nor a secret is ever logged.

`ClientCredentials` is the pluggable check (`MemberCredentials` asks the API keys and the chain's membership).
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from ledger_core.db.models.types import utc_now
from ledger_service.identity.api_keys import ApiKeyInvalid, ApiKeys
from ledger_service.membership import MemberView

TOKEN_LIFETIME = timedelta(hours=1)
MAX_TOKENS = 100_000  # live tokens held; beyond it the oldest are dropped (a client then asks again)


class ClientCredentials(Protocol):
    def client(self, client_id: str, secret: str) -> str | None:
        """The client (a member's address) the credentials authenticate, or None."""
        ...

    def allowed(self, client: str) -> bool:
        """Whether a client that holds a token may still be served (a member suspended since is not)."""
        ...


class MemberDirectory(Protocol):
    def member(self, address: str) -> MemberView: ...


class MemberCredentials:
    """Client id: the member's address; client secret: a valid API key of that member; the member is active."""

    def __init__(self, api_keys: ApiKeys, directory: MemberDirectory) -> None:
        self.api_keys = api_keys
        self.directory = directory

    def client(self, client_id: str, secret: str) -> str | None:
        try:
            key = self.api_keys.cached(secret) or self.api_keys.authenticate(secret)
        except ApiKeyInvalid:
            return None
        if key.member.lower() != client_id.strip().lower():
            return None
        member = self.directory.member(key.member)
        return member.address if member.active else None

    def allowed(self, client: str) -> bool:
        return self.directory.member(client).active


class TokenInvalid(PermissionError):
    """Not a token this host issued (or one it dropped)."""


class TokenExpired(PermissionError):
    """A token this host issued, past its expiry."""


@dataclass(frozen=True)
class IssuedToken:
    token: str  # shown once, to the client
    client: str
    expires_in: int  # seconds


def token_hash(token: str) -> bytes:
    """What is kept of a token: its SHA-256."""
    return hashlib.sha256(token.encode()).digest()


class Tokens(Protocol):
    """Where issued tokens are kept: in memory (`TokenStore`) or in the database (`pact_state.SqlTokenStore`)."""

    def issue(self, client: str) -> IssuedToken: ...

    def client(self, token: str) -> str:
        """The token's client; raises TokenInvalid or TokenExpired."""
        ...


class TokenStore:
    """Opaque bearer tokens by SHA-256 hash, with their client and expiry (thread-safe)."""

    def __init__(self, lifetime: timedelta = TOKEN_LIFETIME, clock: Callable[[], datetime] = utc_now) -> None:
        self.lifetime = lifetime
        self.clock = clock
        self._tokens: dict[bytes, tuple[str, datetime]] = {}
        self._lock = threading.Lock()

    def issue(self, client: str) -> IssuedToken:
        token = secrets.token_urlsafe(32)
        now = self.clock()
        with self._lock:
            self._drop_expired(now)
            while len(self._tokens) >= MAX_TOKENS:
                self._tokens.pop(next(iter(self._tokens)))
            self._tokens[token_hash(token)] = (client, now + self.lifetime)
        return IssuedToken(token, client, int(self.lifetime.total_seconds()))

    def client(self, token: str) -> str:
        """The token's client; raises TokenInvalid or TokenExpired."""
        with self._lock:
            found = self._tokens.get(token_hash(token))
        if found is None:
            raise TokenInvalid("unknown access token")
        client, expires = found
        if expires <= self.clock():
            raise TokenExpired("the access token has expired")
        return client

    def _drop_expired(self, now: datetime) -> None:
        # Expired tokens are kept for one more lifetime, so their use is answered TokenExpired rather than unknown.
        for key in [k for k, (_, expires) in self._tokens.items() if expires + self.lifetime <= now]:
            del self._tokens[key]
