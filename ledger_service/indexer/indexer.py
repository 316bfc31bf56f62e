"""The indexing loop: check stored blocks against the chain, roll back a reorganisation,
then read the chain forward in block ranges, one DB transaction per range.

A rollback commits with the first range read again from the common ancestor (or with the run's end when
there is nothing to read again), so a reader never sees a replaced branch gone before its replacement is
indexed: it sees the index as it was, or as it is after that range (a replacement longer than one range
is re-read a range at a time, as any other blocks).

Exactly once: a range's rows, its block hashes and the checkpoints of the contracts it
covers commit together, so a crash anywhere leaves the index at the end of the last
committed range, and the next run starts right after it. Every event table is also unique
on (transaction hash, log index).

Finality: blocks deeper than `confirmations` below the head are final; rows of shallower
blocks are written with `pending` set, their blocks' hashes re-checked on every run, and
marked final once deep enough.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, insert, select

from ledger_service.indexer import store
from ledger_service.indexer.catalog import EventCatalog, RawLog
from ledger_service.indexer.handlers import rows_of
from ledger_service.indexer.source import BlockHeader, ChainSource

DEFAULT_CONFIRMATIONS = 12
DEFAULT_RANGE = 5000
REORG_PAGE = 256


class ChainMovedDuringRange(RuntimeError):
    """The chain changed under a range being read (its logs or its parent no longer match)."""


@dataclass
class IndexHooks:
    """Points where a test can stop the indexer as if it crashed."""

    after_fetch: Callable[[int, int], None] | None = None
    after_table: Callable[[str], None] | None = None


@dataclass
class SyncReport:
    head: int
    final_block: int
    indexed_block: int
    ranges: int = 0
    events: int = 0
    rows: int = 0
    rolled_back_to: int | None = None
    seconds: float = 0.0
    by_event: dict[str, int] = field(default_factory=dict)

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


class EventIndexer:
    """Mirrors the events of `catalog`'s contracts from `source` into the database of `engine`."""

    def __init__(
        self,
        engine: Engine,
        source: ChainSource,
        catalog: EventCatalog,
        confirmations: int = DEFAULT_CONFIRMATIONS,
        range_size: int = DEFAULT_RANGE,
        start_block: int = 0,
        hooks: IndexHooks | None = None,
    ) -> None:
        self.engine = engine
        self.source = source
        self.catalog = catalog
        self.confirmations = confirmations
        self.range_size = range_size
        self.start_block = start_block
        self.hooks = hooks or IndexHooks()

    # ------------------------------------------------------------------ state

    def checkpoints(self) -> dict[str, int]:
        """Checkpoint key (a contract, or an upgraded contract's later address) -> last indexed block, creating
        checkpoints for addresses new to the index: from the block before the first one they served, so a new
        version's address is read from its start even where the index already passed it."""
        with self.engine.begin() as conn:
            found = dict(conn.execute(select(store.CHECKPOINTS.c.contract, store.CHECKPOINTS.c.indexed_block)).all())
            missing = [
                {"contract": name, "address": addr, "indexed_block": self._start_of(name) - 1,
                 "final_block": self._start_of(name) - 1, "updated_at": datetime.now(UTC)}
                for name, addr in self.catalog.addresses.items() if name not in found
            ]
            if missing:
                conn.execute(insert(store.CHECKPOINTS), missing)
                found.update({m["contract"]: m["indexed_block"] for m in missing})
        return {name: found[name] for name in self.catalog.addresses}

    def _start_of(self, key: str) -> int:
        return max(self.start_block, self.catalog.first_block.get(key, self.start_block))

    def _stored_hashes(self, numbers: Sequence[int] | None = None, below: int | None = None,
                       limit: int | None = None) -> list[tuple[int, bytes]]:
        blocks = store.BLOCKS
        q = select(blocks.c.number, blocks.c.hash).order_by(blocks.c.number.desc())
        if numbers is not None:
            q = q.where(blocks.c.number.in_(list(numbers)))
        if below is not None:
            q = q.where(blocks.c.number < below)
        if limit is not None:
            q = q.limit(limit)
        with self.engine.connect() as conn:
            return [(n, bytes(h)) for n, h in conn.execute(q).all()]

    # ------------------------------------------------------------------ reorgs

    def check_reorg(self) -> int | None:
        """The common ancestor if a stored block left the chain, or None. Nothing is written: `sync` rolls
        back to it in the transaction of the first range it reads again."""
        blocks = store.BLOCKS
        with self.engine.connect() as conn:
            to_check = list(conn.scalars(select(blocks.c.number).where(~blocks.c.final)))
            last_final = conn.scalar(select(blocks.c.number).where(blocks.c.final).order_by(
                blocks.c.number.desc()).limit(1))
        if last_final is not None:
            to_check.append(last_final)
        if not to_check:
            return None
        stored = self._stored_hashes(numbers=to_check)
        chain = self.source.headers(n for n, _ in stored)
        if all(n in chain and chain[n].hash == h for n, h in stored):
            return None
        return self._common_ancestor()

    def _common_ancestor(self) -> int:
        below: int | None = None
        while True:
            page = self._stored_hashes(below=below, limit=REORG_PAGE)
            if not page:
                return self.start_block - 1
            chain = self.source.headers(n for n, _ in page)
            for n, h in page:
                if n in chain and chain[n].hash == h:
                    return n
            below = page[-1][0]

    # ------------------------------------------------------------------ ranges

    def sync(self, to_block: int | None = None) -> SyncReport:
        """Index up to `to_block` (default: the head); returns what was done."""
        started = time.perf_counter()
        rollback = self.check_reorg()  # not yet written: see `_index_range`
        head = self.source.head()
        target = head if to_block is None else min(to_block, head)
        final_block = head - self.confirmations
        report = SyncReport(head=head, final_block=final_block, indexed_block=-1, rolled_back_to=rollback)
        by_event: dict[str, int] = defaultdict(int)
        self.checkpoints()
        with self.engine.connect() as conn:
            since = store.final_mark(conn)
        while True:
            checkpoints = self._after_rollback(self.checkpoints(), rollback)
            start = min(checkpoints.values()) + 1
            if start > target:
                break
            end = min(start + self.range_size - 1, target)
            try:
                events, rows = self._index_range(start, end, checkpoints, final_block, by_event, rollback)
            except ChainMovedDuringRange:
                ancestor = self.check_reorg()
                if ancestor is not None:
                    rollback = report.rolled_back_to = ancestor if rollback is None else min(rollback, ancestor)
                # A node that went back may not have reached the old head again yet.
                head = self.source.head()
                target = min(target, head)
                final_block = report.final_block = min(final_block, head - self.confirmations)
                continue
            rollback = None  # written with the range
            report.ranges += 1
            report.events += events
            report.rows += rows
        with self.engine.begin() as conn:
            if rollback is not None:
                store.rollback_to(conn, rollback)
            store.finalize(conn, final_block, since if report.rolled_back_to is None
                           else min(since, report.rolled_back_to))
        report.indexed_block = min(self.checkpoints().values())
        report.seconds = time.perf_counter() - started
        report.by_event = dict(by_event)
        return report

    @staticmethod
    def _after_rollback(checkpoints: dict[str, int], rollback: int | None) -> dict[str, int]:
        """The checkpoints as they stand once a rollback not yet written is."""
        return checkpoints if rollback is None else {name: min(done, rollback) for name, done in checkpoints.items()}

    def _index_range(self, start: int, end: int, checkpoints: dict[str, int], final_block: int,
                     by_event: dict[str, int], rollback: int | None = None) -> tuple[int, int]:
        covered = [name for name, done in checkpoints.items() if done < end]
        addresses = [self.catalog.addresses[name] for name in covered]
        # The range's last block, seen before its logs are read and again after: a node whose head fell
        # below `end` meanwhile (it restarted from an older state) answers `eth_getLogs` only up to its head.
        end_before = self.source.headers([end]).get(end)
        if end_before is None:
            raise ChainMovedDuringRange(f"block {end} is gone")
        logs = self.source.logs(start, end, addresses)
        logs = [log for log in logs if log.block_number > checkpoints[self.catalog.key_at[log.address]]
                and self.catalog.serves(log.address, log.block_number)]
        headers = self.source.headers({log.block_number for log in logs} | {end, start - 1})
        self._check_consistent(logs, headers, start, end)
        if headers[end].hash != end_before.hash:
            raise ChainMovedDuringRange(f"block {end} changed while range {start}-{end} was read")
        if self.hooks.after_fetch:
            self.hooks.after_fetch(start, end)
        rows_by_table: dict[str, list[dict[str, Any]]] = defaultdict(list)
        events = 0
        for log in sorted(logs, key=lambda entry: (entry.block_number, entry.log_index)):
            header = headers[log.block_number]
            event = self.catalog.decode(log, header.timestamp)
            if event is None:
                continue
            events += 1
            by_event[f"{event.contract}.{event.event}"] += 1
            meta = {"block_number": log.block_number, "tx_hash": log.tx_hash, "log_index": log.log_index,
                    "block_time": header.time, "pending": log.block_number > final_block}
            for table, values in rows_of(event):
                rows_by_table[table].append({**values, **meta})
        new_blocks = [headers[n] for n in sorted({log.block_number for log in logs} | {end})]
        with self.engine.begin() as conn:
            if rollback is not None:
                store.rollback_to(conn, rollback)
            store.write_range(conn, rows_by_table, new_blocks, final_block, covered, end, self.hooks.after_table)
        return events, sum(len(r) for r in rows_by_table.values())

    def _check_consistent(self, logs: list[RawLog], headers: dict[int, BlockHeader], start: int, end: int) -> None:
        if end not in headers:
            raise ChainMovedDuringRange(f"block {end} is gone")
        for log in logs:
            header = headers.get(log.block_number)
            if header is None or header.hash != log.block_hash:
                raise ChainMovedDuringRange(f"block {log.block_number} changed while range {start}-{end} was read")
        previous = self._stored_hashes(numbers=[start - 1])
        if previous and (start - 1 not in headers or headers[start - 1].hash != previous[0][1]):
            raise ChainMovedDuringRange(f"block {start - 1} is no longer the parent of range {start}-{end}")
