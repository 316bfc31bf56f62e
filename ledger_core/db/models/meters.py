"""Metering devices, accepted readings, quarantined readings and the ingestion runs that brought them.

Amounts are integers of mgCO2e (SQL BIGINT: up to 9.2e18 mg, 9.2 million tonnes, per value).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, SmallInteger, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ledger_core.db.base import Base
from ledger_core.db.models.types import BigId, Hash32, UtcDateTime, utc_now


class MeterDevice(Base):
    """A registered metering device, its public key and the last reading accepted from it."""

    __tablename__ = "meter_devices"

    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[str] = mapped_column(String(128), unique=True)
    device_hash: Mapped[bytes] = mapped_column(Hash32, unique=True)  # SHA-256 of device_id, as on chain
    enterprise_org_id: Mapped[int] = mapped_column(BigInteger, index=True)
    facility: Mapped[str] = mapped_column(String(128))
    workshop: Mapped[str] = mapped_column(String(128))
    public_key: Mapped[bytes] = mapped_column(Hash32)  # raw Ed25519 public key
    # `emission_meter` (readings valued in mgCO2e), `generation_meter` (electricity produced, in Wh) or
    # `product_counter` (units of a product, in milli declared units)
    kind: Mapped[str] = mapped_column(String(16), default="emission_meter", server_default="emission_meter")
    active: Mapped[bool] = mapped_column(default=True)
    last_sequence: Mapped[int | None] = mapped_column(BigInteger)
    last_timestamp: Mapped[int | None] = mapped_column(BigInteger)
    registered_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)


class IngestRun(Base):
    """One ingestion of a batch of messages, with its outcome."""

    __tablename__ = "ingest_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(256))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    messages: Mapped[int] = mapped_column(default=0)
    accepted: Mapped[int] = mapped_column(BigInteger, default=0)
    quarantined: Mapped[int] = mapped_column(BigInteger, default=0)
    quarantined_by_reason: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Reading(Base):
    """An accepted reading as committed: the fields of its canonical record, digest and leaf hash.

    `factor_set` is the id of the set that valued the reading (chosen by the reading's time, or the
    configured override), committed in its record as `factorSetId`; NULL on rows stored before
    sets were chosen per reading, whose record carries their batch's set. `leaf_hash` lets a
    device's leaf layer be rebuilt for a proof without re-encoding any record.
    """

    __tablename__ = "readings"
    __table_args__ = (
        UniqueConstraint("device_pk", "sequence"),
        Index("ix_readings_batch_device_order", "batch_id", "device_pk", "timestamp", "sequence"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("ingest_runs.id"))
    batch_id: Mapped[int] = mapped_column(ForeignKey("meter_batches.id"))
    device_pk: Mapped[int] = mapped_column(ForeignKey("meter_devices.id"))
    sequence: Mapped[int] = mapped_column(BigInteger)
    timestamp: Mapped[int] = mapped_column(BigInteger)
    quantity: Mapped[str] = mapped_column(String(64))  # canonical decimal
    unit: Mapped[str] = mapped_column(String(16))
    carrier: Mapped[str] = mapped_column(String(32))
    scope: Mapped[int] = mapped_column(SmallInteger)
    value_mg: Mapped[int] = mapped_column(BigInteger)
    digest: Mapped[bytes] = mapped_column(Hash32)
    leaf_hash: Mapped[bytes] = mapped_column(Hash32)
    factor_set: Mapped[str | None] = mapped_column(String(64))


class QuarantinedReading(Base):
    """A reading (or an unreadable message) refused by the oracle, with its reason and raw payload."""

    __tablename__ = "quarantined_readings"
    __table_args__ = (Index("ix_quarantined_readings_device_received", "device_id", "received_at"),)  # hourly cap

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("ingest_runs.id"), index=True)
    reason: Mapped[str] = mapped_column(String(32), index=True)
    detail: Mapped[str] = mapped_column(String(500), default="")
    device_id: Mapped[str | None] = mapped_column(String(128))
    sequence: Mapped[int | None] = mapped_column(BigInteger)
    timestamp: Mapped[int | None] = mapped_column(BigInteger)
    payload: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
