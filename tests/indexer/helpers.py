"""Compare whole indexes: every event and state row and the checkpoints, without surrogate keys or
wall-clock stamps (which blocks are kept besides those with events depends on the range size)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select

from ledger_core.db.models import ChainBalance, ChainDevice, ChainMember, ChainReport
from ledger_service.indexer.store import CHECKPOINTS, EVENT_TABLES

STATE_TABLES = [m.__table__ for m in (ChainMember, ChainBalance, ChainReport, ChainDevice)]
IGNORED = {"id", "updated_at"}


def dump(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    out = {}
    with engine.connect() as conn:
        for table in [*EVENT_TABLES.values(), *STATE_TABLES, CHECKPOINTS]:
            cols = [c for c in table.columns if c.name not in IGNORED]
            out[table.name] = sorted(conn.execute(select(*cols)).all(), key=repr)
    return out


def event_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return sum(len(conn.execute(select(t.c.tx_hash)).all()) for t in EVENT_TABLES.values())
