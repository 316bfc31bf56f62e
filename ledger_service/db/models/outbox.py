"""The transaction outbox: every transaction the service sends, from intent to receipt.

A row is written before anything touches the chain and moves
`queued` (intent: contract, function, arguments, signer) -> `signed` (nonce, raw
transaction and hash fixed) -> `sent` (handed to the node) -> `mined` or `failed`
(receipt: block, gas used, status, decoded revert). `rejected` is a transaction
refused before signing (its revert was known from a preflight call), so it holds no
nonce. Because the raw transaction is stored before it is sent, a restart
re-broadcasts the very same bytes: the hash is the same and nothing is sent twice.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ledger_service.db.base import Base
from ledger_service.db.models.types import BigId, UtcDateTime, utc_now


class OutboxStatus(StrEnum):
    QUEUED = "queued"
    SIGNED = "signed"
    SENT = "sent"
    MINED = "mined"
    FAILED = "failed"
    REJECTED = "rejected"


PENDING_STATUSES = (OutboxStatus.QUEUED, OutboxStatus.SIGNED, OutboxStatus.SENT)
FINAL_STATUSES = (OutboxStatus.MINED, OutboxStatus.FAILED, OutboxStatus.REJECTED)


class OutboxOrigin(StrEnum):
    CUSTODIAL = "custodial"  # signed by the service with a key it keeps
    RELAYED = "relayed"  # signed by the client, checked and relayed by the service


class OutboxTransaction(Base):
    __tablename__ = "outbox_transactions"
    __table_args__ = (
        UniqueConstraint("signer", "nonce"),
        Index("ix_outbox_transactions_status_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    origin: Mapped[str] = mapped_column(String(16), default=OutboxOrigin.CUSTODIAL)
    requested_by: Mapped[str | None] = mapped_column(String(42), index=True)  # the authenticated member
    signer: Mapped[str] = mapped_column(String(42))
    contract: Mapped[str] = mapped_column(String(64))
    function: Mapped[str] = mapped_column(String(128))
    args: Mapped[list[Any]] = mapped_column(JSON)  # JSON-safe: ints as decimal strings, bytes as 0x-hex
    to_address: Mapped[str] = mapped_column(String(42))
    calldata: Mapped[str] = mapped_column(Text)  # 0x-hex
    value: Mapped[str] = mapped_column(String(80), default="0")  # wei, decimal string
    status: Mapped[str] = mapped_column(String(16), default=OutboxStatus.QUEUED)
    nonce: Mapped[int | None] = mapped_column(BigInteger)
    gas_limit: Mapped[int | None] = mapped_column(BigInteger)
    raw_tx: Mapped[str | None] = mapped_column(Text)
    tx_hash: Mapped[str | None] = mapped_column(String(66), unique=True)
    block_number: Mapped[int | None] = mapped_column(BigInteger)
    gas_used: Mapped[int | None] = mapped_column(BigInteger)
    receipt_status: Mapped[int | None] = mapped_column(Integer)
    error_name: Mapped[str | None] = mapped_column(String(128))
    error_args: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    last_error: Mapped[str | None] = mapped_column(String(500))  # why the last send attempt failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now, onupdate=utc_now)
