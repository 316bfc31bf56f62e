"""Who may call the service: custodial member keys (encrypted), API keys (hashed) and their audit log, used request
nonces."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ledger_core.db.base import Base
from ledger_core.db.models.types import UtcDateTime, utc_now


class CustodialKey(Base):
    """A member's private key kept by the service, sealed with AES-GCM under a key derived from the
    service secret (scrypt with `salt`); the address is the associated data, so a sealed key cannot
    be moved to another row."""

    __tablename__ = "custodial_keys"

    address: Mapped[str] = mapped_column(String(42), primary_key=True)
    salt: Mapped[bytes] = mapped_column(LargeBinary(16))
    nonce: Mapped[bytes] = mapped_column(LargeBinary(12))
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary(64))
    label: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)


class ApiKey(Base):
    """An API key scoped to one member. Only the SHA-256 of the secret is stored."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # public key id, part of the token
    member: Mapped[str] = mapped_column(String(42), index=True)
    secret_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    label: Mapped[str] = mapped_column(String(128), default="")
    issued_by: Mapped[str | None] = mapped_column(String(42))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    replaced_by: Mapped[str | None] = mapped_column(String(32))


class ApiKeyEvent(Base):
    """The audit log of API keys: each issue, rotation and revocation, who did it and when (UTC). `actor` is the
    regulator's address for a change made through the API, or says which local command made it (`carbonledger
    admin issue-key`, run on the server, or the service's own start-up)."""

    __tablename__ = "api_key_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now, index=True)
    key_id: Mapped[str] = mapped_column(String(32), index=True)
    member: Mapped[str] = mapped_column(String(42))
    action: Mapped[str] = mapped_column(String(16))  # issued, rotated, revoked
    actor: Mapped[str] = mapped_column(String(160))
    note: Mapped[str] = mapped_column(String(255), default="")


class RequestNonce(Base):
    """A nonce of a signed request, kept while its timestamp is inside the accepted window."""

    __tablename__ = "request_nonces"
    __table_args__ = (UniqueConstraint("address", "nonce"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    address: Mapped[str] = mapped_column(String(42))
    nonce: Mapped[str] = mapped_column(String(128))
    seen_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now, index=True)


class ConsoleSession(Base):
    """A signed-in web console session. Only the SHA-256 of the cookie's token and of the session's CSRF
    token are stored, so a database read gives neither; the member is checked against the chain on every page."""

    __tablename__ = "console_sessions"

    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    member: Mapped[str] = mapped_column(String(42), index=True)
    via: Mapped[str] = mapped_column(String(16))  # api_key or siwe
    key_id: Mapped[str | None] = mapped_column(String(32))  # the API key signed in with, checked on every page
    csrf_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    language: Mapped[str] = mapped_column(String(8), default="en")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


class ConsoleChallenge(Base):
    """A Sign-In with Ethereum nonce the console issued for one address: used once, before it expires."""

    __tablename__ = "console_challenges"

    nonce: Mapped[str] = mapped_column(String(32), primary_key=True)
    address: Mapped[str] = mapped_column(String(42))
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
