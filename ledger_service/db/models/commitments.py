"""Committed windows of meter data (one per enterprise and window) and their level nodes.

A batch moves `open` (collecting readings) -> `built` (tree computed, root fixed) ->
`sent` (anchor transaction broadcast, hash recorded) -> `anchored` (anchor id recorded).
The level nodes (device, workshop, facility, enterprise) of a built batch are stored so
a reading's proof needs only its own device's leaves to be re-paired.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, ForeignKey, SmallInteger, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ledger_service.db.base import Base
from ledger_service.db.models.types import Hash32, UtcDateTime, utc_now


class BatchStatus(StrEnum):
    OPEN = "open"
    BUILT = "built"
    SENT = "sent"
    ANCHORED = "anchored"


class MeterBatch(Base):
    """The readings of one enterprise in one window `[window_start, window_end)`."""

    __tablename__ = "meter_batches"
    __table_args__ = (UniqueConstraint("enterprise_org_id", "window_start"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_org_id: Mapped[int] = mapped_column(BigInteger)
    window_start: Mapped[int] = mapped_column(BigInteger)
    window_end: Mapped[int] = mapped_column(BigInteger)
    factor_set: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default=BatchStatus.OPEN, index=True)
    reading_count: Mapped[int] = mapped_column(BigInteger, default=0)
    total_mg: Mapped[int] = mapped_column(BigInteger, default=0)
    facilities_root: Mapped[bytes | None] = mapped_column(Hash32)
    root: Mapped[bytes | None] = mapped_column(Hash32)
    tx_hash: Mapped[str | None] = mapped_column(String(66))
    anchor_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    built_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    anchored_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class CommittedNode(Base):
    """A level node of a built batch: `label` is the device/workshop/facility string id
    (the enterprise's org id for level 4); `facility` and `workshop` place it in the tree."""

    __tablename__ = "committed_nodes"

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("meter_batches.id"), index=True)
    level: Mapped[int] = mapped_column(SmallInteger)
    label: Mapped[str] = mapped_column(String(128))
    facility: Mapped[str | None] = mapped_column(String(128))
    workshop: Mapped[str | None] = mapped_column(String(128))
    node_id: Mapped[bytes] = mapped_column(Hash32)
    hash: Mapped[bytes] = mapped_column(Hash32)
    sum_mg: Mapped[int] = mapped_column(BigInteger)
    count: Mapped[int] = mapped_column(BigInteger)
