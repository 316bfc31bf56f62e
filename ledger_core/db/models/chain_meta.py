"""The columns every indexed event row carries: where on chain it happened, and whether it is final."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ledger_core.db.models.types import BigId, UtcDateTime

# Column order of the meta fields as the indexer writes them (after each table's own columns).
META_COLUMNS = ("block_number", "tx_hash", "log_index", "block_time", "pending")


class ChainEventRow:
    """Mixin: surrogate key, block number, transaction hash, log index, block time (UTC), pending flag.

    `pending` rows come from blocks not yet deeper than the confirmation depth; they are
    re-checked on every run and rolled back if their block leaves the chain.
    """

    id: Mapped[int] = mapped_column(BigId, primary_key=True)

    block_number: Mapped[int] = mapped_column(BigInteger, index=True)

    tx_hash: Mapped[str] = mapped_column(String(66))
    log_index: Mapped[int] = mapped_column(Integer)
    block_time: Mapped[datetime] = mapped_column(UtcDateTime)
    pending: Mapped[bool] = mapped_column(default=False)
