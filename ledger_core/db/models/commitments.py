"""Committed windows of meter data (one per enterprise and window) and their level nodes.

A batch moves `open` (collecting readings) -> `built` (tree computed, root fixed) ->
`sent` (anchor transaction broadcast, hash recorded) -> `anchored` (anchor id recorded).
The level nodes (device, workshop, facility, enterprise) of a built batch are stored so
a reading's proof needs only its own device's leaves to be re-paired.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, SmallInteger, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ledger_core.db.base import Base
from ledger_core.db.models.types import Hash32, UtcDateTime, utc_now


class BatchStatus(StrEnum):
    OPEN = "open"
    BUILT = "built"
    SENT = "sent"
    ANCHORED = "anchored"


class MeterBatch(Base):
    """The readings of one enterprise and measure in one window `[window_start, window_end)`.

    `measure` is the anchor's: 0 emissions (sums in mgCO2e), 1 electricity produced by generation
    meters (sums in Wh; `total_mg` then holds Wh and `factor_set` is empty).
    """

    __tablename__ = "meter_batches"
    __table_args__ = (UniqueConstraint("enterprise_org_id", "measure", "window_start"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_org_id: Mapped[int] = mapped_column(BigInteger)
    measure: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")
    window_start: Mapped[int] = mapped_column(BigInteger)
    window_end: Mapped[int] = mapped_column(BigInteger)
    factor_set: Mapped[str] = mapped_column(String(64))  # the anchor's factorSetId: the set valid at window_start
    # Every set that valued a reading of the window, sorted, comma-separated (set when built); a window
    # across a validity boundary lists two. NULL for windows built before sets were chosen per reading.
    factor_sets: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), default=BatchStatus.OPEN, index=True)
    reading_count: Mapped[int] = mapped_column(BigInteger, default=0)
    total_mg: Mapped[int] = mapped_column(BigInteger, default=0)
    facilities_root: Mapped[bytes | None] = mapped_column(Hash32)
    root: Mapped[bytes | None] = mapped_column(Hash32)
    tx_hash: Mapped[str | None] = mapped_column(String(66))
    anchor_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    # Changed by database triggers whenever what the built window is rebuilt from changes
    # (`ledger_core.db.models.revisions`): a remembered verdict on the window holds only under it.
    readings_revision: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
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


class Revaluation(Base):
    """An explicit re-valuation of stored readings with another factor set: who asked, when, why, and
    the totals per window under both valuations. It is a separate record: the readings, their
    digests, the windows' roots and the anchors are never rewritten."""

    __tablename__ = "revaluations"

    id: Mapped[int] = mapped_column(primary_key=True)
    factor_set: Mapped[str] = mapped_column(String(64))
    window_start: Mapped[int] = mapped_column(BigInteger)
    window_end: Mapped[int] = mapped_column(BigInteger)
    enterprise_org_id: Mapped[int | None] = mapped_column(BigInteger)
    requested_by: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    reading_count: Mapped[int] = mapped_column(BigInteger)
    original_mg: Mapped[int] = mapped_column(BigInteger)
    revalued_mg: Mapped[int] = mapped_column(BigInteger)
    not_valued: Mapped[int] = mapped_column(BigInteger)
    report: Mapped[dict[str, Any]] = mapped_column(JSON)
