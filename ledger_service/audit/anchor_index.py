"""Anchor records as the event index holds them, checked the way MeterAnchor checks them.

MeterAnchor keeps, per single anchor, the hash of its record and, per batch, the Merkle root of its
windows' record hashes (under the batch's first anchor id). The index holds the records themselves
(`chain_anchors`), so an indexed anchor is checked by hashing its row (and, for a window of a batch, its
batch's rows) and comparing with what the contract keeps; a proof bundle carries the row as the record.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from ledger_core.db.models import ChainAnchor
from oracles.anchor_records import AnchoredWindow, AnchorRecord, batch_proof, batch_root


def record_of(row: Mapping[str, Any] | ChainAnchor) -> AnchorRecord:
    """The anchor record an index row states."""
    get = row.__getitem__ if isinstance(row, Mapping) else row.__getattribute__
    return AnchorRecord(int(get("anchor_id")), int(get("enterprise_org_id")), int(get("measure")),
                        int(get("window_start")), int(get("window_end")), bytes(get("root")), int(get("total_mg")),
                        int(get("reading_count")), bytes(get("factor_set_id")), int(get("previous_anchor_id")),
                        str(get("oracle")))


def kept_by_index(rows: Iterable[Mapping[str, Any]]) -> dict[int, bytes]:
    """What MeterAnchor must keep under each id for these index rows to be true: a single anchor's commitment
    under its id, each batch's root (over its rows, in anchor order) under the batch id."""
    kept: dict[int, bytes] = {}
    batches: dict[int, list[AnchorRecord]] = {}
    for row in rows:
        record = record_of(row)
        if row["batch_id"] is None:
            kept[record.anchor_id] = record.commitment()
        else:
            batches.setdefault(int(row["batch_id"]), []).append(record)
    for batch_id, records in batches.items():
        records.sort(key=lambda r: r.anchor_id)
        kept[batch_id] = batch_root([r.commitment() for r in records])
    return kept


def indexed_window(session: Session | Connection, anchor: ChainAnchor) -> AnchoredWindow:
    """The indexed anchor as a proof's anchor part: its record and, in a batch, its commitment's path."""
    record = record_of(anchor)
    path: tuple[bytes, ...] = ()
    batch_id = record.anchor_id
    if anchor.batch_id is not None:
        batch_id = int(anchor.batch_id)
        rows = session.execute(select(ChainAnchor.__table__).where(ChainAnchor.batch_id == batch_id)
                               .order_by(ChainAnchor.anchor_id)).mappings().all()
        records = [record_of(dict(r)) for r in rows]
        path = batch_proof([r.commitment() for r in records], [r.anchor_id for r in records].index(record.anchor_id))
    return AnchoredWindow(record, batch_id, path, int(anchor.block_number), anchor.tx_hash,
                          int(anchor.block_time.timestamp()))
