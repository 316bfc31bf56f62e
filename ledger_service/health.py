"""What the probes and the metrics read about the service's dependencies: the database answers, the chain's
head, outbox entries by status, and how far the event index is behind the head.

Nothing here runs in the background: every answer is read when asked, so a probe sees the state of now."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from ledger_core.chain.client import ChainClient
from ledger_core.db.models.outbox import OutboxTransaction
from ledger_service.audit.outbox_check import OutboxReadiness, outbox_readiness
from ledger_service.workers.indexing import IndexWorker


@dataclass(frozen=True)
class IndexLag:
    """The event index against the chain's head: `ok` when it is at most `max_lag_blocks` behind."""

    indexed_block: int | None
    lag_blocks: int | None
    max_lag_blocks: int
    last_error: str | None

    @property
    def ok(self) -> bool:
        return self.lag_blocks is not None and self.lag_blocks <= self.max_lag_blocks


@dataclass(frozen=True)
class Readiness:
    """Every dependency as /ready reports it; `outbox` is None when the database does not answer."""

    mode: str
    chain_head: int | None
    database: bool
    index: IndexLag
    outbox: OutboxReadiness | None
    max_pending_seconds: float

    @property
    def ok(self) -> bool:
        return (self.chain_head is not None and self.database and self.index.ok
                and self.outbox is not None and self.outbox.ok)


class Health:
    """Reads of the database, the chain, the outbox and the index, each failing soft where a probe needs it."""

    def __init__(self, engine: Engine, sessions: sessionmaker[Session], chain: ChainClient, index: IndexWorker,
                 max_lag_blocks: Callable[[], int], max_pending_seconds: Callable[[], float]) -> None:
        self.engine = engine
        self.sessions = sessions
        self.chain = chain
        self.index = index
        # read when asked: the settings can change while serving
        self._max_lag_blocks = max_lag_blocks
        self._max_pending_seconds = max_pending_seconds

    def database_ok(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    def chain_head(self) -> int | None:
        """The chain's latest block number; None when the chain does not answer."""
        try:
            return self.chain.block_number()
        except Exception:
            return None

    def outbox_counts(self) -> dict[str, int]:
        """Outbox entries by status (statuses with none are absent)."""
        with self.sessions() as session:
            rows = session.execute(
                select(OutboxTransaction.status, func.count()).group_by(OutboxTransaction.status)
            ).all()
        return {str(status): int(count) for status, count in rows}

    def indexed_block(self) -> int:
        return self.index.indexed_block()

    def index_lag(self, head: int | None, database: bool = True) -> IndexLag:
        """The index against `head` (unknown without a head, or when the database does not answer)."""
        indexed = self.index.indexed_block() if database else None
        lag = head - indexed if head is not None and indexed is not None else None
        return IndexLag(indexed, lag, self._max_lag_blocks(), self.index.status.last_error)

    def readiness(self) -> Readiness:
        """The chain answers; the database answers; the index is close enough to the head; the outbox moves
        (no pending row older than the receipt timeout, no signer waiting on a nonce gap)."""
        head = self.chain_head()
        database = self.database_ok()
        max_pending = self._max_pending_seconds()
        outbox = outbox_readiness(self.sessions, self.chain if head is not None else None, max_pending) \
            if database else None
        return Readiness(self.chain.mode, head, database, self.index_lag(head, database), outbox, max_pending)
