"""Emission reports and their versions, meter devices and anchors, notarizations."""

from __future__ import annotations

from sqlalchemy import BigInteger, Integer, SmallInteger, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ledger_core.db.base import Base
from ledger_core.db.models.chain_meta import ChainEventRow
from ledger_core.db.models.types import Hash32


class ChainReportEvent(ChainEventRow, Base):
    """One step of a report version: `submitted`, `verified`, `rejected` or `finalized`."""

    __tablename__ = "chain_report_events"
    __table_args__ = (UniqueConstraint("tx_hash", "log_index"),)

    report_id: Mapped[int] = mapped_column(BigInteger, index=True)
    kind: Mapped[str] = mapped_column(String(16))
    org_id: Mapped[int] = mapped_column(BigInteger, index=True)
    year: Mapped[int] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(42))
    version: Mapped[int | None] = mapped_column(Integer)
    previous_report_id: Mapped[int | None] = mapped_column(BigInteger)
    document_hash: Mapped[bytes | None] = mapped_column(Hash32)
    reported_kg: Mapped[int | None] = mapped_column(BigInteger)
    anchors_root: Mapped[bytes | None] = mapped_column(Hash32)
    anchored_mg: Mapped[int | None] = mapped_column(BigInteger)
    reading_count: Mapped[int | None] = mapped_column(BigInteger)
    verified_kg: Mapped[int | None] = mapped_column(BigInteger)
    statement_hash: Mapped[bytes | None] = mapped_column(Hash32)
    reason_hash: Mapped[bytes | None] = mapped_column(Hash32)
    obligation_tonnes: Mapped[int | None] = mapped_column(BigInteger)


class ChainReport(Base):
    """A report version's current state, projected from its events (rebuilt after a rollback)."""

    __tablename__ = "chain_reports"

    report_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    org_id: Mapped[int] = mapped_column(BigInteger, index=True)
    year: Mapped[int] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer)
    previous_report_id: Mapped[int] = mapped_column(BigInteger)
    submitter: Mapped[str] = mapped_column(String(42))
    document_hash: Mapped[bytes] = mapped_column(Hash32)
    reported_kg: Mapped[int] = mapped_column(BigInteger)
    anchors_root: Mapped[bytes] = mapped_column(Hash32)
    anchored_mg: Mapped[int] = mapped_column(BigInteger)
    reading_count: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))
    verifier: Mapped[str | None] = mapped_column(String(42))
    verified_kg: Mapped[int | None] = mapped_column(BigInteger)
    finalizer: Mapped[str | None] = mapped_column(String(42))
    obligation_tonnes: Mapped[int | None] = mapped_column(BigInteger)
    updated_block: Mapped[int] = mapped_column(BigInteger)


class ChainDeviceEvent(ChainEventRow, Base):
    """MeterAnchor device changes: `registered`, `active_set`, `key_rotated`."""

    __tablename__ = "chain_device_events"
    __table_args__ = (UniqueConstraint("tx_hash", "log_index"),)

    device_id: Mapped[bytes] = mapped_column(Hash32, index=True)
    kind: Mapped[str] = mapped_column(String(16))
    enterprise_org_id: Mapped[int] = mapped_column(BigInteger)
    facility_id: Mapped[bytes | None] = mapped_column(Hash32)
    workshop_id: Mapped[bytes | None] = mapped_column(Hash32)
    public_key_hash: Mapped[bytes | None] = mapped_column(Hash32)
    active: Mapped[bool | None] = mapped_column()
    actor: Mapped[str] = mapped_column(String(42))


class ChainDevice(Base):
    """A device's current registration, projected from its events (rebuilt after a rollback)."""

    __tablename__ = "chain_devices"

    device_id: Mapped[bytes] = mapped_column(Hash32, primary_key=True)
    enterprise_org_id: Mapped[int] = mapped_column(BigInteger, index=True)
    facility_id: Mapped[bytes] = mapped_column(Hash32)
    workshop_id: Mapped[bytes] = mapped_column(Hash32)
    public_key_hash: Mapped[bytes] = mapped_column(Hash32)
    active: Mapped[bool] = mapped_column()
    registered_block: Mapped[int] = mapped_column(BigInteger)
    registered_tx: Mapped[str] = mapped_column(String(66))


class ChainAnchor(ChainEventRow, Base):
    """An anchor's record: an enterprise window's level-4 root, total and count, from its `Anchored` event, or
    one row per window of a `BatchAnchored` event (`batch_id`: the batch's first anchor id; NULL for a single
    anchor). MeterAnchor keeps only the record's hash (or the batch's root): reconcile compares them."""

    __tablename__ = "chain_anchors"
    __table_args__ = (UniqueConstraint("tx_hash", "log_index", "anchor_id"),)

    anchor_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    enterprise_org_id: Mapped[int] = mapped_column(BigInteger, index=True)
    measure: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")  # 0 mgCO2e, 1 Wh produced
    window_start: Mapped[int] = mapped_column(BigInteger)
    window_end: Mapped[int] = mapped_column(BigInteger)
    root: Mapped[bytes] = mapped_column(Hash32)
    total_mg: Mapped[int] = mapped_column(BigInteger)
    reading_count: Mapped[int] = mapped_column(BigInteger)
    factor_set_id: Mapped[bytes] = mapped_column(Hash32)
    previous_anchor_id: Mapped[int] = mapped_column(BigInteger)
    oracle: Mapped[str] = mapped_column(String(42))
    batch_id: Mapped[int | None] = mapped_column(BigInteger, index=True)


class ChainOracleAuthorisation(ChainEventRow, Base):
    """`OracleAuthorisationSet`: an oracle (dis)authorised for an enterprise."""

    __tablename__ = "chain_oracle_authorisations"
    __table_args__ = (UniqueConstraint("tx_hash", "log_index"),)

    oracle: Mapped[str] = mapped_column(String(42), index=True)
    enterprise_org_id: Mapped[int] = mapped_column(BigInteger)
    authorised: Mapped[bool] = mapped_column()
    actor: Mapped[str] = mapped_column(String(42))


class ChainNotarization(ChainEventRow, Base):
    """`Notarized`: a document hash, who notarized it, for which organisation, when."""

    __tablename__ = "chain_notarizations"
    __table_args__ = (UniqueConstraint("tx_hash", "log_index"),)

    document_hash: Mapped[bytes] = mapped_column(Hash32, unique=True)
    notary: Mapped[str] = mapped_column(String(42), index=True)
    org_id: Mapped[int] = mapped_column(BigInteger, index=True)
    kind: Mapped[bytes] = mapped_column(Hash32)
    reference_id: Mapped[bytes] = mapped_column(Hash32)
    timestamp: Mapped[int] = mapped_column(BigInteger)
    notarized_block: Mapped[int] = mapped_column(BigInteger)
