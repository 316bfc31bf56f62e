"""What a use case that sends transactions answers: its transactions as the outbox holds them and what it reads
back after them (None when that can only be read from a mined transaction and the last one is still on its way:
see `sending.pending`, which the HTTP edge answers as 202)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from ledger_core.chain.outbox import TxRecord
from ledger_core.db.models.outbox import OutboxStatus

T = TypeVar("T")


@dataclass(frozen=True)
class Sent(Generic[T]):
    records: tuple[TxRecord, ...]  # approvals or other preparations first, the use case's own transaction last
    value: T | None = None

    @property
    def record(self) -> TxRecord:
        return self.records[-1]


def mined(record: TxRecord) -> bool:
    """The transaction is in a block: what it made can be read back."""
    return record.status == OutboxStatus.MINED and record.tx_hash is not None
