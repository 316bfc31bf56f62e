"""The event indexer as a worker: keeps the index of the suite's events up to the chain's head.

`sync` indexes up to the head (one caller at a time in this process, one process at a time on a shared
database: the `indexer` role); `index_up_to_date` syncs only when the head differs from what was indexed;
`start` syncs every `index_interval_seconds` in the background until `stop`. When a sync finds that the
chain forgot blocks the index had seen, what the outbox recorded as mined there is sent again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine, func, select

from ledger_core.chain.client import ChainClient, ChainUnavailable
from ledger_core.chain.outbox import Outbox
from ledger_core.db.locks import DatabaseLocks
from ledger_core.db.models import IndexCheckpoint
from ledger_service.indexer import store as index_store
from ledger_service.indexer.indexer import EventIndexer, SyncReport
from ledger_service.workers import Loop, Worker

log = logging.getLogger(__name__)
ROLE = "indexer"
HEAD_HASH_SECONDS = 1.0  # how long a head hash that matched the index stands when the head's number has not moved


@dataclass
class IndexStatus:
    """What this process's indexer has done: the last indexed block and head it saw, events written."""

    indexed_block: int | None = None
    indexed_hash: bytes | None = None
    head: int | None = None
    events: int = 0
    syncs: int = 0
    last_error: str | None = None


class IndexWorker(Worker):
    """The index of one deployed suite, brought up to the chain's head on demand or in the background."""

    def __init__(self, indexer: EventIndexer, chain: ChainClient, engine: Engine, locks: DatabaseLocks,
                 outbox: Outbox, start_block: int, interval: Callable[[], float],
                 before_sync: Callable[[], object] | None = None,
                 after_sync: Callable[[SyncReport], object] | None = None) -> None:
        """`before_sync` runs before every sync (the runtime follows a rewritten deployment record there),
        `after_sync` with every sync's report (the runtime drops member views the events changed)."""
        self.indexer = indexer
        self.before_sync = before_sync
        self.after_sync = after_sync
        self.chain = chain
        self.engine = engine
        self.locks = locks
        self.outbox = outbox
        self.start_block = start_block
        self.status = IndexStatus()
        self._head_confirmed = float("-inf")  # monotonic time the head's hash last matched the index
        self._lock = threading.Lock()
        self._loop = Loop("indexer", self._round, interval, first_at_once=True, join_seconds=30)

    def _round(self) -> None:
        try:
            self.sync()
        except ChainUnavailable as exc:
            log.warning("indexer: %s", exc)
        except Exception:
            log.exception("indexer failed")

    # ------------------------------------------------------------------ syncing

    def sync(self) -> SyncReport:
        """Index every event up to the head (one caller at a time, one process at a time)."""
        with self._lock, self.locks.role(ROLE, wait=True):
            try:
                if self.before_sync is not None:
                    self.before_sync()
                report = self.indexer.sync()
            except Exception as exc:
                self.status.last_error = f"{type(exc).__name__}: {exc}"
                raise
            status = self.status
            status.indexed_block, status.head = report.indexed_block, report.head
            status.indexed_hash = self._stored_block_hash(report.indexed_block)
            status.events += report.events
            status.syncs += 1
            status.last_error = None
            if self.after_sync is not None:
                self.after_sync(report)
        if report.rolled_back_to is not None:
            log.warning("the chain no longer has the indexed blocks above %d: the index went back to it and read "
                        "the chain's blocks from there", report.rolled_back_to)
            self.resend_forgotten(report.rolled_back_to + 1)
        return report

    def index_up_to_date(self) -> int:
        """Bring the index to the chain's current head if it differs (behind, or ahead of a chain
        that forgot blocks); the indexed block. The head is compared by number and hash: a node
        restarted from an older state dump may have mined back to the indexed height on other blocks.

        Within `HEAD_HASH_SECONDS` of the head's hash matching the index, the number alone is read
        (`eth_blockNumber`, shared by concurrent readers): the latest block's answer carries every
        transaction hash of the block, about 20 ms for a block of 2,000 transfers, on every read. A
        write's block is always seen (its number is past the index). Only a node that forgot blocks and
        mined back to the very same height within that second is seen up to a second late (the
        background sync checks hashes too)."""
        status = self.status
        if (status.indexed_block is not None and time.monotonic() - self._head_confirmed < HEAD_HASH_SECONDS
                and self.chain.block_number() == status.indexed_block):
            return status.indexed_block
        number, block_hash = self.chain.head()
        if status.indexed_block is not None and status.indexed_block == number and status.indexed_hash == block_hash:
            self._head_confirmed = time.monotonic()
            return status.indexed_block
        return self.sync().indexed_block

    def indexed_block(self) -> int:
        """The block up to which every contract of the suite is indexed (from the checkpoints)."""
        with self.engine.connect() as conn:
            block = conn.scalar(select(func.min(IndexCheckpoint.indexed_block)))
        return self.start_block - 1 if block is None else int(block)

    def resend_forgotten(self, from_block: int) -> None:
        """The chain forgot blocks the index had seen (a node restarted from an older state dump, a
        reorg): what the outbox recorded as mined there is sent again, as the same signed transactions."""
        forgotten = self.outbox.rewind_forgotten(from_block)
        if forgotten:
            log.warning("the chain forgot %d transactions from block %d on; sending them again",
                        len(forgotten), from_block)
            self.outbox.recover(wait=False)

    def rollback_to_head(self) -> None:
        """Drop what the index holds above the chain's head (the chain was taken back to an earlier state on
        purpose); the next sync starts from what is left."""
        head = self.chain.block_number()
        with self._lock:
            with self.engine.begin() as conn:
                ahead = conn.scalar(select(func.max(IndexCheckpoint.indexed_block)))
                if ahead is not None and ahead > head:
                    index_store.rollback_to(conn, head)
            self.status.indexed_block = self.status.indexed_hash = None

    def _stored_block_hash(self, number: int) -> bytes | None:
        with self.engine.connect() as conn:
            found = conn.scalar(select(index_store.BLOCKS.c.hash).where(index_store.BLOCKS.c.number == number))
        return None if found is None else bytes(found)
