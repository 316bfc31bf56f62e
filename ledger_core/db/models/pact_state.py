"""PACT state shared by every service process on one database: the access tokens `/auth/token` issued (kept as
SHA-256 hashes, never the token) with their expiry, and the CloudEvents `/3/events` received, with what became of
a footprint request (answered or not)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ledger_core.db.base import Base
from ledger_core.db.models.types import BigId, Hash32, UtcDateTime, utc_now


class PactToken(Base):
    """An access token, by its SHA-256: the client (a member's address) and when it expires."""

    __tablename__ = "pact_tokens"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    token_hash: Mapped[bytes] = mapped_column(Hash32, unique=True)
    client: Mapped[str] = mapped_column(String(42), index=True)
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


class PactEventRecord(Base):
    """A received CloudEvent (`content`: the envelope as JSON), once per client, source and id; for a footprint
    request, the type of the answer sent (`answer_type`) and when, or why it could not be sent."""

    __tablename__ = "pact_events"
    __table_args__ = (UniqueConstraint("client", "source", "event_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    client: Mapped[str] = mapped_column(String(42))
    source: Mapped[str] = mapped_column(String(512))
    event_id: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(128), index=True)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    answer_type: Mapped[str | None] = mapped_column(String(128))
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    answer_problem: Mapped[str | None] = mapped_column(String(512))
