"""Token movements and holdings: allowances and credits (ERC-1155, id = year or batch) and the
settlement token (ERC-20, id 0); allocations, retractions and surrenders; compliance records.

Amounts are whole token units as on chain (SQL BIGINT, up to 9.2e18 units).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Index, Integer, SmallInteger, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ledger_core.db.base import Base
from ledger_core.db.models.chain_meta import ChainEventRow
from ledger_core.db.models.types import Hash32


class ChainTransfer(ChainEventRow, Base):
    """One token movement: `mint` (from the zero address), `burn` (to it) or `transfer`.

    A batch transfer log yields one row per id, numbered by `sub_index`.
    """

    __tablename__ = "chain_transfers"
    __table_args__ = (
        UniqueConstraint("tx_hash", "log_index", "sub_index"),
        # A trace's hops in chain order, read from the index alone: every column the trace reads is in it.
        Index("ix_chain_transfers_token_hops", "token", "token_id", "block_number", "log_index", "sub_index", "kind",
              "operator", "from_address", "to_address", "amount", "tx_hash", "block_time", "pending"),
    )

    token: Mapped[str] = mapped_column(String(64))
    token_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(8))
    operator: Mapped[str | None] = mapped_column(String(42))
    from_address: Mapped[str] = mapped_column(String(42), index=True)
    to_address: Mapped[str] = mapped_column(String(42), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    sub_index: Mapped[int] = mapped_column(Integer, default=0)


class ChainBalance(Base):
    """A holder's balance of one token id, projected from the transfers (rebuilt after a rollback)."""

    __tablename__ = "chain_balances"
    __table_args__ = (Index("ix_chain_balances_holder", "holder"),)

    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    token_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    holder: Mapped[str] = mapped_column(String(42), primary_key=True)
    amount: Mapped[int] = mapped_column(BigInteger)


class ChainAllocation(ChainEventRow, Base):
    """`Retracted` allowances of a vintage (negative `amount`). An allocation is the AllowanceRegistry's mint,
    indexed as a transfer (`chain_transfers`, kind `mint`); its `Allocated` event sums up the batch."""

    __tablename__ = "chain_allocations"
    __table_args__ = (UniqueConstraint("tx_hash", "log_index"),)

    year: Mapped[int] = mapped_column(Integer, index=True)
    holder: Mapped[str] = mapped_column(String(42), index=True)
    org_id: Mapped[int] = mapped_column(BigInteger)
    amount: Mapped[int] = mapped_column(BigInteger)
    reason_hash: Mapped[bytes | None] = mapped_column(Hash32)


class ChainSurrender(ChainEventRow, Base):
    """Units of `token` id `token_id` surrendered by `holder` for `org_id`'s compliance year."""

    __tablename__ = "chain_surrenders"
    __table_args__ = (UniqueConstraint("tx_hash", "log_index"),)

    token: Mapped[str] = mapped_column(String(64))
    org_id: Mapped[int] = mapped_column(BigInteger, index=True)
    compliance_year: Mapped[int] = mapped_column(Integer)
    holder: Mapped[str] = mapped_column(String(42))
    token_id: Mapped[int] = mapped_column(BigInteger)
    amount: Mapped[int] = mapped_column(BigInteger)


class ChainComplianceRecord(ChainEventRow, Base):
    """ComplianceLedger: `obligation` set (tonnes) or `surrender` recorded (tonnes, asset kind)."""

    __tablename__ = "chain_compliance_records"
    __table_args__ = (UniqueConstraint("tx_hash", "log_index"),)

    kind: Mapped[str] = mapped_column(String(16))
    org_id: Mapped[int] = mapped_column(BigInteger, index=True)
    year: Mapped[int] = mapped_column(Integer)
    asset_kind: Mapped[int | None] = mapped_column(SmallInteger)
    registry_address: Mapped[str | None] = mapped_column(String(42))
    tonnes: Mapped[int] = mapped_column(BigInteger)
