"""The transaction outbox: every transaction the service sends, from intent to receipt.

A row is written before anything touches the chain and moves
`queued` (intent: contract, function, arguments, signer) -> `signed` (nonce, raw
transaction and hash fixed) -> `sent` (handed to the node) -> `mined` or `failed`
(receipt: block, block hash, gas used, status, decoded revert). `rejected` is a transaction
refused before signing (its revert was known from a preflight call), so it holds no
nonce. Because the raw transaction is stored before it is sent, a restart
re-broadcasts the very same bytes: the hash is the same and nothing is sent twice.

One owner per row: a queued row is claimed (`claimed_by`, `claimed_until`) by the
process that wrote it, and only its claimant may sign it; an expired claim may be
taken over. `mined` and `failed` are provisional until `final` (the block is deeper
than the confirmation depth); a receipt that vanishes sends the row back to `signed`.
`dropped` is a signed transaction whose nonce another transaction took on chain; it is
never sent again, and its intent is queued again as a new row (`replaces_id`).
`replaced` is a relayed transaction its signer replaced with another at the same nonce
and a higher fee (`replaces_id` on the new row); it is not sent again, and becomes
`mined` after all if the node had mined it first.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Index, Integer, LargeBinary, String, Text, false, text
from sqlalchemy.orm import Mapped, mapped_column

from ledger_core.db.base import Base
from ledger_core.db.models.types import BigId, UtcDateTime, utc_now


class OutboxStatus(StrEnum):
    QUEUED = "queued"
    SIGNED = "signed"
    SENT = "sent"
    MINED = "mined"
    FAILED = "failed"
    REJECTED = "rejected"
    DROPPED = "dropped"
    REPLACED = "replaced"  # a relayed transaction its signer replaced by one with the same nonce and a higher fee


IN_PLAY = text("status NOT IN ('replaced', 'dropped')")
PENDING_STATUSES = (OutboxStatus.QUEUED, OutboxStatus.SIGNED, OutboxStatus.SENT)
MINED_STATUSES = (OutboxStatus.MINED, OutboxStatus.FAILED)
FINAL_STATUSES = (OutboxStatus.MINED, OutboxStatus.FAILED, OutboxStatus.REJECTED, OutboxStatus.DROPPED)


class OutboxOrigin(StrEnum):
    CUSTODIAL = "custodial"  # signed by the service with a key it keeps
    RELAYED = "relayed"  # signed by the client, checked and relayed by the service


class OutboxTransaction(Base):
    __tablename__ = "outbox_transactions"
    __table_args__ = (
        # One attempt in play per nonce: a replaced or dropped attempt keeps the nonce it was signed with.
        Index("uq_outbox_transactions_signer_nonce_in_play", "signer", "nonce", unique=True,
              sqlite_where=IN_PLAY, postgresql_where=IN_PLAY),
        Index("ix_outbox_transactions_signer_nonce", "signer", "nonce"),
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
    block_hash: Mapped[str | None] = mapped_column(String(66))
    final: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    gas_used: Mapped[int | None] = mapped_column(BigInteger)
    receipt_status: Mapped[int | None] = mapped_column(Integer)
    error_name: Mapped[str | None] = mapped_column(String(128))
    error_args: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    last_error: Mapped[str | None] = mapped_column(String(500))  # why the last send attempt failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(64))  # the process that may sign a queued row
    claimed_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # The dropped attempt this one repeats, or the replaced one it replaces.
    replaces_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now, onupdate=utc_now)


class IdempotencyRecord(Base):
    """A request sent with an `Idempotency-Key`: written in the same database transaction as its outbox
    rows, so a retry with the same key and body answers the original result instead of sending again."""

    __tablename__ = "idempotency_keys"

    caller: Mapped[str] = mapped_column(String(42), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    fingerprint: Mapped[bytes] = mapped_column(LargeBinary(32))  # SHA-256 of method, path and body
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(String(512))
    outbox_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)

