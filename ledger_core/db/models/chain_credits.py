"""Offset credits and the market: projects, verifications, batches, retirements, cancellations and
surrenders of the CreditRegistry; orders and their fills on the CarbonMarket.

Event tables keep one row per event; `chain_credit_projects` and `chain_orders` hold the current
state, projected from their events (rebuilt after a rollback). Amounts, serials and prices
(settlement-token units per tonne) are whole units as on chain.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ledger_core.db.base import Base
from ledger_core.db.models.chain_meta import ChainEventRow
from ledger_core.db.models.types import Hash32, UtcDateTime


class ChainProjectEvent(ChainEventRow, Base):
    """`registered` (owner, methodology, document, location), `suspended` (reason) or `reinstated`."""

    __tablename__ = "chain_project_events"
    __table_args__ = (UniqueConstraint("tx_hash", "log_index"),)

    project_id: Mapped[bytes] = mapped_column(Hash32, index=True)
    kind: Mapped[str] = mapped_column(String(16))
    owner: Mapped[str | None] = mapped_column(String(42))
    methodology: Mapped[str | None] = mapped_column(String(256))
    document_hash: Mapped[bytes | None] = mapped_column(Hash32)
    location: Mapped[str | None] = mapped_column(String(256))
    reason_hash: Mapped[bytes | None] = mapped_column(Hash32)


class ChainCreditProject(Base):
    """A project's current registration and status (`active` or `suspended`)."""

    __tablename__ = "chain_credit_projects"

    project_id: Mapped[bytes] = mapped_column(Hash32, primary_key=True)
    owner: Mapped[str] = mapped_column(String(42), index=True)
    methodology: Mapped[str] = mapped_column(String(256))
    document_hash: Mapped[bytes] = mapped_column(Hash32)
    location: Mapped[str] = mapped_column(String(256))
    status: Mapped[str] = mapped_column(String(16))
    registered_block: Mapped[int] = mapped_column(BigInteger)
    registered_tx: Mapped[str] = mapped_column(String(66))
    updated_block: Mapped[int] = mapped_column(BigInteger)


class ChainCreditVerification(ChainEventRow, Base):
    """`VerificationSubmitted`: a verifier's statement on a project's monitoring period."""

    __tablename__ = "chain_credit_verifications"
    __table_args__ = (UniqueConstraint("tx_hash", "log_index"),)

    project_id: Mapped[bytes] = mapped_column(Hash32, index=True)
    verifier: Mapped[str] = mapped_column(String(42), index=True)
    period_start: Mapped[int] = mapped_column(BigInteger)
    period_end: Mapped[int] = mapped_column(BigInteger)
    verified_tonnes: Mapped[int] = mapped_column(BigInteger)
    statement_hash: Mapped[bytes] = mapped_column(Hash32)


class ChainCreditBatch(ChainEventRow, Base):
    """`BatchIssued`: a batch (its token id), vintage, amount and serial range, for a verified period."""

    __tablename__ = "chain_credit_batches"
    __table_args__ = (UniqueConstraint("tx_hash", "log_index"),)

    batch_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    project_id: Mapped[bytes] = mapped_column(Hash32, index=True)
    owner: Mapped[str] = mapped_column(String(42))
    vintage: Mapped[int] = mapped_column(Integer)
    amount: Mapped[int] = mapped_column(BigInteger)
    serial_start: Mapped[int] = mapped_column(BigInteger)
    serial_end: Mapped[int] = mapped_column(BigInteger)
    period_start: Mapped[int] = mapped_column(BigInteger)
    period_end: Mapped[int] = mapped_column(BigInteger)
    statement_hash: Mapped[bytes] = mapped_column(Hash32)


class ChainCreditRetirement(ChainEventRow, Base):
    """`CreditsRetired`: the content of a retirement certificate."""

    __tablename__ = "chain_credit_retirements"
    __table_args__ = (UniqueConstraint("tx_hash", "log_index"),)

    retirement_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    batch_id: Mapped[int] = mapped_column(BigInteger, index=True)
    holder: Mapped[str] = mapped_column(String(42), index=True)
    project_id: Mapped[bytes] = mapped_column(Hash32)
    vintage: Mapped[int] = mapped_column(Integer)
    amount: Mapped[int] = mapped_column(BigInteger)
    serial_start: Mapped[int] = mapped_column(BigInteger)
    serial_end: Mapped[int] = mapped_column(BigInteger)
    beneficiary: Mapped[str] = mapped_column(String(512))
    purpose: Mapped[str] = mapped_column(String(512))
    jurisdiction: Mapped[str] = mapped_column(String(64))
    consumption_start: Mapped[int] = mapped_column(BigInteger)
    consumption_end: Mapped[int] = mapped_column(BigInteger)


class ChainCreditCancellation(ChainEventRow, Base):
    """`CreditsCancelled`: units of a batch invalidated by a regulator, with the serials consumed."""

    __tablename__ = "chain_credit_cancellations"
    __table_args__ = (UniqueConstraint("tx_hash", "log_index"),)

    batch_id: Mapped[int] = mapped_column(BigInteger, index=True)
    holder: Mapped[str] = mapped_column(String(42))
    amount: Mapped[int] = mapped_column(BigInteger)
    serial_start: Mapped[int] = mapped_column(BigInteger)
    serial_end: Mapped[int] = mapped_column(BigInteger)
    reason_hash: Mapped[bytes] = mapped_column(Hash32)


class ChainCreditSurrender(ChainEventRow, Base):
    """`CreditsSurrendered`: units surrendered towards an organisation's compliance year."""

    __tablename__ = "chain_credit_surrenders"
    __table_args__ = (UniqueConstraint("tx_hash", "log_index"),)

    batch_id: Mapped[int] = mapped_column(BigInteger, index=True)
    holder: Mapped[str] = mapped_column(String(42))
    org_id: Mapped[int] = mapped_column(BigInteger, index=True)
    year: Mapped[int] = mapped_column(Integer)
    amount: Mapped[int] = mapped_column(BigInteger)
    serial_start: Mapped[int] = mapped_column(BigInteger)
    serial_end: Mapped[int] = mapped_column(BigInteger)


class ChainOrderEvent(ChainEventRow, Base):
    """A market order's step: `listed`, `filled` (buyer, amount, price, payment, remaining),
    `cancelled` or `expired` (reclaimed by `caller`; `returned` units back to the seller)."""

    __tablename__ = "chain_order_events"
    __table_args__ = (
        UniqueConstraint("tx_hash", "log_index"),
        Index("ix_chain_order_events_asset_token", "asset", "token_id", "kind", "block_number"),
    )

    order_id: Mapped[int] = mapped_column(BigInteger, index=True)
    kind: Mapped[str] = mapped_column(String(16))
    seller: Mapped[str] = mapped_column(String(42))
    buyer: Mapped[str | None] = mapped_column(String(42))
    caller: Mapped[str | None] = mapped_column(String(42))
    asset: Mapped[str | None] = mapped_column(String(42))
    token_id: Mapped[int | None] = mapped_column(BigInteger)
    amount: Mapped[int | None] = mapped_column(BigInteger)
    price: Mapped[int | None] = mapped_column(BigInteger)
    payment: Mapped[int | None] = mapped_column(BigInteger)
    remaining: Mapped[int | None] = mapped_column(BigInteger)
    returned: Mapped[int | None] = mapped_column(BigInteger)
    expiry: Mapped[int | None] = mapped_column(BigInteger)


class ChainOrder(Base):
    """An order's current state: `open`, `filled`, `cancelled` or `expired` (reclaimed), and what remains.

    An open order whose expiry has passed stays `open` until someone reclaims it; readers compare
    `expiry` with the time they ask about.
    """

    __tablename__ = "chain_orders"
    __table_args__ = (Index("ix_chain_orders_book", "asset", "token_id", "status", "price"),)

    order_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    seller: Mapped[str] = mapped_column(String(42), index=True)
    asset: Mapped[str] = mapped_column(String(42))
    token_id: Mapped[int] = mapped_column(BigInteger)
    amount: Mapped[int] = mapped_column(BigInteger)
    remaining: Mapped[int] = mapped_column(BigInteger)
    price: Mapped[int] = mapped_column(BigInteger)
    expiry: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))
    listed_block: Mapped[int] = mapped_column(BigInteger)
    listed_tx: Mapped[str] = mapped_column(String(66))
    listed_time: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_block: Mapped[int] = mapped_column(BigInteger)
