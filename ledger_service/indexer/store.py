"""Writing the index: a range's event rows, block hashes and checkpoints in one transaction;
marking rows final; rolling everything above a block back.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Connection, DateTime, Table, delete, func, select, update

from ledger_core.db import models  # noqa: F401  (every table mapped before EVENT_TABLES is read)
from ledger_core.db.base import Base
from ledger_core.db.bulk import bulk_insert
from ledger_core.db.models import IndexCheckpoint, IndexedBlock
from ledger_core.db.models.chain_meta import META_COLUMNS, ChainEventRow
from ledger_service.indexer import projections
from ledger_service.indexer.source import BlockHeader

# Every model with the event-row columns is an event table: an asset kind's own rows need no entry here.
EVENT_TABLES: dict[str, Table] = {
    m.class_.__tablename__: m.local_table  # type: ignore[attr-defined,misc]
    for m in sorted(Base.registry.mappers, key=lambda m: m.class_.__name__)
    if issubclass(m.class_, ChainEventRow)
}
CHECKPOINTS: Table = IndexCheckpoint.__table__  # type: ignore[assignment]
BLOCKS: Table = IndexedBlock.__table__  # type: ignore[assignment]


def _sqlite_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _converters(conn: Connection, table: Table, columns: Sequence[str]) -> list[Callable[[Any], Any] | None]:
    sqlite = conn.dialect.name == "sqlite"
    out: list[Callable[[Any], Any] | None] = []
    for name in columns:
        typ = table.c[name].type
        if isinstance(typ, JSON):
            out.append(json.dumps)
        elif sqlite and isinstance(typ, DateTime):
            out.append(_sqlite_time)
        else:
            out.append(None)
    return out


def insert_rows(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Bulk insert dict rows (every column but the surrogate key) through the driver."""
    if not rows:
        return
    columns = [c.name for c in table.columns if c.name != "id"]
    conv = _converters(conn, table, columns)
    tuples = [
        tuple(v if f is None or v is None else f(v) for f, v in zip(conv, (r.get(c) for c in columns), strict=True))
        for r in rows
    ]
    bulk_insert(conn, table, columns, tuples)


def write_range(
    conn: Connection,
    rows_by_table: Mapping[str, list[dict[str, Any]]],
    headers: Iterable[BlockHeader],
    final_block: int,
    contracts: Iterable[str],
    to_block: int,
    after_table: Callable[[str], None] | None = None,
) -> None:
    """One range: event rows, state projections, new block hashes, checkpoints (in the caller's transaction)."""
    for name, rows in rows_by_table.items():
        insert_rows(conn, EVENT_TABLES[name], rows)
        if after_table:
            after_table(name)
    projections.apply(conn, rows_by_table)
    headers = sorted(headers, key=lambda h: h.number)
    if headers:
        known = set(conn.scalars(select(BLOCKS.c.number).where(
            BLOCKS.c.number.between(headers[0].number, headers[-1].number))))
        insert_rows(conn, BLOCKS, [
            {"number": h.number, "hash": h.hash, "parent_hash": h.parent_hash, "block_time": h.time,
             "final": h.number <= final_block}
            for h in headers if h.number not in known
        ])
    conn.execute(update(CHECKPOINTS).where(CHECKPOINTS.c.contract.in_(list(contracts))).values(
        indexed_block=to_block, final_block=min(to_block, final_block), updated_at=datetime.now(UTC)))


def final_mark(conn: Connection) -> int:
    """The lowest final block of the checkpoints: no row at or below it is pending."""
    previous = conn.scalar(select(func.min(CHECKPOINTS.c.final_block)))
    return -1 if previous is None else int(previous)


def finalize(conn: Connection, final_block: int, since: int = -1) -> None:
    """Rows and blocks at or below `final_block` are no longer pending; `since` is a `final_mark`
    taken before the run's ranges were written (rows at or below it need no visit)."""
    for table in EVENT_TABLES.values():
        conn.execute(update(table).where(table.c.block_number > since, table.c.block_number <= final_block,
                                         table.c.pending).values(pending=False))
    conn.execute(update(BLOCKS).where(~BLOCKS.c.final, BLOCKS.c.number <= final_block).values(final=True))
    for contract, indexed in conn.execute(select(CHECKPOINTS.c.contract, CHECKPOINTS.c.indexed_block)).all():
        conn.execute(update(CHECKPOINTS).where(CHECKPOINTS.c.contract == contract).values(
            final_block=min(indexed, final_block)))


def rollback_to(conn: Connection, block: int) -> None:
    """Forget everything above `block`, rewind checkpoints, rebuild the state tables."""
    for table in EVENT_TABLES.values():
        conn.execute(delete(table).where(table.c.block_number > block))
    conn.execute(delete(BLOCKS).where(BLOCKS.c.number > block))
    for contract, indexed, final in conn.execute(
        select(CHECKPOINTS.c.contract, CHECKPOINTS.c.indexed_block, CHECKPOINTS.c.final_block)
    ).all():
        conn.execute(update(CHECKPOINTS).where(CHECKPOINTS.c.contract == contract).values(
            indexed_block=min(indexed, block), final_block=min(final, block)))
    projections.rebuild(conn)


__all__ = ["EVENT_TABLES", "META_COLUMNS", "finalize", "insert_rows", "rollback_to", "write_range"]
