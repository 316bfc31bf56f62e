"""Anchor records as the event index holds them, checked the way MeterAnchor checks them.

MeterAnchor keeps, per single anchor, the hash of its record and, per batch, the Merkle root of its
windows' record hashes (under the batch's first anchor id). The index holds the records themselves
(`chain_anchors`), so an indexed anchor is checked by hashing its row (and, for a window of a batch, its
batch's rows) and comparing with what the contract keeps; a proof bundle carries the row as the record.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from itertools import groupby
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from ledger_core.db.lists import in_values
from ledger_core.db.models import ChainAnchor
from oracles.anchor_records import AnchoredWindow, AnchorRecord, batch_proofs, batch_root

_RECORD_FIELDS = ("anchor_id", "enterprise_org_id", "measure", "window_start", "window_end", "root", "total_mg",
                  "reading_count", "factor_set_id", "previous_anchor_id", "oracle")


def record_of(row: Mapping[str, Any] | ChainAnchor | Any) -> AnchorRecord:
    """The anchor record an index row states (a mapping, or its columns as attributes)."""
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
    return indexed_windows(session, [anchor])[int(anchor.anchor_id)]


def indexed_windows(session: Session | Connection, anchors: Sequence[ChainAnchor]) -> dict[int, AnchoredWindow]:
    """`indexed_window` of each anchor (by anchor id), each batch read and its tree built once."""
    batch_ids = {int(a.batch_id) for a in anchors if a.batch_id is not None}
    a = ChainAnchor
    rows: Sequence[Any] = []
    if batch_ids:  # the record's columns only, as tuples: a batch holds up to a hundred windows
        rows = session.execute(
            select(a.batch_id, a.anchor_id, a.enterprise_org_id, a.measure, a.window_start, a.window_end, a.root,
                   a.total_mg, a.reading_count, a.factor_set_id, a.previous_anchor_id, a.oracle)
            .where(in_values(session, a.batch_id, batch_ids)).order_by(a.batch_id, a.anchor_id)
        ).all()
    return anchored_windows(anchors, batch_paths(rows))


BATCH_RECORD_FIELDS = ("batch_id", *_RECORD_FIELDS)
"""The columns of an index row `batch_paths` takes, in its order."""


def batch_paths(rows: Iterable[Sequence[Any]]) -> dict[int, tuple[bytes, ...]]:
    """Anchor id -> the path of its commitment to its batch's root, from every index row of those batches
    (`BATCH_RECORD_FIELDS`), in batch and anchor order."""
    paths: dict[int, tuple[bytes, ...]] = {}
    for _, members in groupby(rows, key=itemgetter(0)):
        paths.update(_batch_paths(tuple(tuple(row[1:]) for row in members)))
    return paths


def anchored_windows(anchors: Iterable[Any], paths: Mapping[int, tuple[bytes, ...]]) -> dict[int, AnchoredWindow]:
    """`indexed_window` of each anchor (a `ChainAnchor` or an index row of all its columns), its batch's paths
    given (`batch_paths`)."""
    out = {}
    for anchor in anchors:
        record = record_of(anchor)
        batch_id = record.anchor_id if anchor.batch_id is None else int(anchor.batch_id)
        out[record.anchor_id] = AnchoredWindow(record, batch_id, paths.get(record.anchor_id, ()),
                                               int(anchor.block_number), anchor.tx_hash,
                                               int(anchor.block_time.timestamp()))
    return out


@lru_cache(maxsize=256)
def _batch_paths(rows: tuple[tuple[Any, ...], ...]) -> tuple[tuple[int, tuple[bytes, ...]], ...]:
    """(anchor id, path of its commitment to the batch root) for a batch's rows (`_RECORD_FIELDS`, in anchor
    order), remembered by the rows' values: a trace reads its anchors' batches whole, and they seldom change."""
    records = [record_of(dict(zip(_RECORD_FIELDS, row, strict=True))) for row in rows]
    return tuple(zip((r.anchor_id for r in records), batch_proofs([r.commitment() for r in records]), strict=True))
