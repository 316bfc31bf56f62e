"""Column types shared by the models."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import BigInteger, DateTime, Integer, LargeBinary

# A 64-bit surrogate key that is SQLite's rowid alias there (so inserts stay cheap).
BigId = BigInteger().with_variant(Integer(), "sqlite")
Hash32 = LargeBinary(32)
UtcDateTime = DateTime(timezone=True)


def utc_now() -> datetime:
    return datetime.now(UTC)


def utc_aware(moment: datetime) -> datetime:
    """A stored moment with its zone: SQLite returns naive datetimes, and every stored moment is UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
