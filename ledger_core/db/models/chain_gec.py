"""Green electricity certificates: batches issued from anchored production (with the anchors each cites) and
consumption claims of the GreenCertificates contract, one row per event (per cited anchor for the anchors).

Amounts and serials are whole certificates (1 = 1 MWh) as on chain; periods are `[start, end)` in unix seconds.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ledger_core.db.base import Base
from ledger_core.db.models.chain_meta import ChainEventRow


class ChainGecBatch(ChainEventRow, Base):
    """`CertificatesIssued`: a batch (its token id) of a generator for a production period, its serial range and
    the Wh its anchors hold."""

    __tablename__ = "chain_gec_batches"
    __table_args__ = (UniqueConstraint("tx_hash", "log_index"),)

    batch_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    generator: Mapped[str] = mapped_column(String(42))
    generator_org_id: Mapped[int] = mapped_column(BigInteger, index=True)
    period_start: Mapped[int] = mapped_column(BigInteger)
    period_end: Mapped[int] = mapped_column(BigInteger)
    amount: Mapped[int] = mapped_column(BigInteger)
    serial_start: Mapped[int] = mapped_column(BigInteger)
    serial_end: Mapped[int] = mapped_column(BigInteger)
    anchored_wh: Mapped[int] = mapped_column(BigInteger)


class ChainGecBatchAnchor(ChainEventRow, Base):
    """One production anchor a batch cites (from its `CertificatesIssued` event, numbered by `sub_index`)."""

    __tablename__ = "chain_gec_batch_anchors"
    __table_args__ = (UniqueConstraint("tx_hash", "log_index", "sub_index"),)

    batch_id: Mapped[int] = mapped_column(BigInteger, index=True)
    anchor_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    sub_index: Mapped[int] = mapped_column(Integer)


class ChainGecConsumption(ChainEventRow, Base):
    """`CertificatesConsumed`: certificates of a batch consumed by `holder` for its organisation's electricity
    in a consumption period, with the serials consumed."""

    __tablename__ = "chain_gec_consumptions"
    __table_args__ = (UniqueConstraint("tx_hash", "log_index"),)

    batch_id: Mapped[int] = mapped_column(BigInteger, index=True)
    holder: Mapped[str] = mapped_column(String(42))
    beneficiary_org_id: Mapped[int] = mapped_column(BigInteger, index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    serial_start: Mapped[int] = mapped_column(BigInteger)
    serial_end: Mapped[int] = mapped_column(BigInteger)
    consumption_start: Mapped[int] = mapped_column(BigInteger)
    consumption_end: Mapped[int] = mapped_column(BigInteger)
