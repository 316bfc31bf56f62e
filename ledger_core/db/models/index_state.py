"""Where the event indexer stands: a checkpoint per contract and the hash of every indexed block.

A checkpoint's `indexed_block` is the last block whose events are in the index (possibly
still pending); `final_block` the last one deeper than the confirmation depth. Blocks are
kept with their hashes so a reorganisation is noticed and rolled back to the common ancestor.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from ledger_core.db.base import Base
from ledger_core.db.models.types import Hash32, UtcDateTime, utc_now


class IndexCheckpoint(Base):
    """How far one contract's events have been indexed."""

    __tablename__ = "index_checkpoints"

    contract: Mapped[str] = mapped_column(String(64), primary_key=True)
    address: Mapped[str] = mapped_column(String(42))
    indexed_block: Mapped[int] = mapped_column(BigInteger)
    final_block: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)


class IndexedBlock(Base):
    """A block the index holds data of (every block with events, and every range's last block)."""

    __tablename__ = "index_blocks"

    number: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(Hash32)
    parent_hash: Mapped[bytes] = mapped_column(Hash32)
    block_time: Mapped[datetime] = mapped_column(UtcDateTime)
    final: Mapped[bool] = mapped_column(default=False, index=True)
