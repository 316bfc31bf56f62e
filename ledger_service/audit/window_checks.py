"""Each built window's verdict (do its stored readings still give its tree?), remembered under the window's
revision so that a trace need not re-hash every reading of every window it shows.

Rebuilding a window re-encodes and re-hashes all its readings (`oracles.proofs.rebuild_window`): a year's report
at 1,000,000 readings is about a second of work, the same for every trace of it. What the rebuild found depends
only on the window's readings, their devices and the batch's own fields; database triggers give the batch a new
random `readings_revision` whenever any of those readings or devices changes, in any way and by any client
(`ledger_core.db.models.revisions`). The verdict is therefore kept, in this process, under the batch's id, that
revision and the fields it was rebuilt with, and read back only while all of them are unchanged; the window's
committed and anchored roots are compared afresh on every trace.

What is kept is small: the verdict (tree root, readings whose stored digest no longer matches), the levels above
the devices, each device's nodes over every 16 of its leaves and the reading ids in leaf order
(`oracles.proofs.KeptLayers`). A reading is proved by re-encoding it and re-pairing the 16 stored leaves of its
chunk (`oracles.proofs.prove_kept`), which must still give the node the check found, or the window is rebuilt
whole.

The checks that exist to find tampering never use it: a trace of every reading, the proof endpoint, the
drill-down's root verification and reconcile rebuild from the stored readings every time. Someone able to write
SQL directly and to set a batch's revision back to its earlier random value can make a kept verdict outlive
their edit: those checks still see it.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import Connection, Pool, select
from sqlalchemy.orm import Session

from ledger_core.db.lists import in_values
from ledger_core.db.models import BatchStatus, MeterBatch
from oracles.proofs import KeptLayers, RebuiltWindow, prove_kept, rebuild_window
from oracles.trees import WindowTree

MAX_WINDOWS = 2048  # kept per database: about 20 bytes a reading and a few kB a device (60 kB at 3,000 readings)


class WindowKey(NamedTuple):
    """What a window's rebuild depends on besides its readings and devices (which change its revision)."""

    batch_id: int
    readings_revision: int
    built_at: datetime | None
    enterprise_org_id: int
    window_start: int
    window_end: int
    factor_set: str


class BatchRow(NamedTuple):
    """A batch as read for a trace (columns, never a possibly stale ORM object)."""

    id: int
    anchor_id: int | None
    enterprise_org_id: int
    window_start: int
    window_end: int
    factor_set: str
    status: str
    root: bytes | None
    readings_revision: int
    built_at: datetime | None
    total_mg: int
    reading_count: int

    @property
    def built(self) -> bool:
        return self.status != BatchStatus.OPEN

    @property
    def key(self) -> WindowKey:
        return WindowKey(self.id, self.readings_revision, self.built_at, self.enterprise_org_id, self.window_start,
                         self.window_end, self.factor_set)


@dataclass(frozen=True)
class CheckedWindow:
    """A window as a trace uses it: `check` answers `problem()` (fresh roots, kept or rebuilt verdict),
    `reading_ids` are its readings, in id order; `full` is the whole window when this trace rebuilt it, else
    `kept` what proves its readings."""

    check: RebuiltWindow
    reading_ids: Sequence[int]
    full: RebuiltWindow | None = None
    kept: KeptLayers | None = None

    @property
    def anchor_id(self) -> int | None:
        return self.check.anchor_id


def with_readings(session: Session,
                  wanted: Sequence[tuple[CheckedWindow, int]]) -> dict[tuple[int, int], RebuiltWindow]:
    """(batch id, reading id) -> a window that holds the reading with what its proof needs: the window itself
    when it was rebuilt whole, else the reading's chunk re-paired under the kept nodes (or the whole window again,
    rebuilt now, if they disagree)."""
    out: dict[tuple[int, int], RebuiltWindow] = {}
    light = []
    for window, reading_id in wanted:
        if window.full is not None:
            out[(window.check.batch_id, reading_id)] = window.full
        else:
            assert window.kept is not None
            light.append((window.check, window.kept, reading_id))
    rebuilt: dict[int, RebuiltWindow] = {}
    for (check, _, reading_id), found in zip(light, prove_kept(session, light), strict=True):
        if found is None:
            if check.batch_id not in rebuilt:
                forget(session, check.batch_id)
                batch = session.get(MeterBatch, check.batch_id)
                assert batch is not None
                rebuilt[check.batch_id] = rebuild_window(session, batch)
            found = rebuilt[check.batch_id]
        out[(check.batch_id, reading_id)] = found
    return out


class _Kept:
    """The remembered checks of one database, least recently used first."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.windows: OrderedDict[int, tuple[WindowKey, RebuiltWindow, KeptLayers]] = OrderedDict()

    def get(self, key: WindowKey) -> tuple[RebuiltWindow, KeptLayers] | None:
        with self.lock:
            found = self.windows.get(key.batch_id)
            if found is None or found[0] != key:
                return None
            self.windows.move_to_end(key.batch_id)
            return found[1], found[2]

    def put(self, key: WindowKey, check: RebuiltWindow, layers: KeptLayers) -> None:
        with self.lock:
            self.windows[key.batch_id] = (key, check, layers)
            self.windows.move_to_end(key.batch_id)
            while len(self.windows) > MAX_WINDOWS:
                self.windows.popitem(last=False)

    def drop(self, batch_id: int) -> None:
        with self.lock:
            self.windows.pop(batch_id, None)


# By the engine's pool: one database's, shared by the engine and its copies with other execution options (a read
# use case's autocommit sessions on PostgreSQL, `IndexedViews.reading`).
_kept: weakref.WeakKeyDictionary[Pool, _Kept] = weakref.WeakKeyDictionary()
_kept_lock = threading.Lock()


def _kept_for(session: Session) -> _Kept:
    bind = session.get_bind()
    pool = (bind.engine if isinstance(bind, Connection) else bind).pool
    with _kept_lock:
        kept = _kept.get(pool)
        if kept is None:
            kept = _kept[pool] = _Kept()
        return kept


def forget(session: Session, batch_id: int) -> None:
    """Drop what is remembered of a window (its next trace rebuilds it)."""
    _kept_for(session).drop(batch_id)


def _summary(window: RebuiltWindow) -> RebuiltWindow:
    """The rebuilt window without its readings and device layers: what a verdict needs kept."""
    tree = None if window.tree is None else WindowTree({}, {}, window.tree.upper)
    return replace(window, readings={}, device_order={}, tree=tree, positions={})


BATCH_COLUMNS = (MeterBatch.id, MeterBatch.anchor_id, MeterBatch.enterprise_org_id, MeterBatch.window_start,
                 MeterBatch.window_end, MeterBatch.factor_set, MeterBatch.status, MeterBatch.root,
                 MeterBatch.readings_revision, MeterBatch.built_at, MeterBatch.total_mg, MeterBatch.reading_count)
"""A `BatchRow`'s columns, in its order (a statement that joins batches to what it reads selects them)."""


def batch_rows(session: Session, anchor_ids: Sequence[int]) -> list[BatchRow]:
    """The batches of these anchors (open ones too: see `BatchRow.built`), as the database holds them now."""
    rows = session.execute(select(*BATCH_COLUMNS).where(in_values(session, MeterBatch.anchor_id, anchor_ids))).all()
    return [BatchRow._make(row) for row in rows]


def checked_window(session: Session, row: BatchRow) -> CheckedWindow:
    """The window of a built batch: its remembered verdict if nothing it depends on changed, else rebuilt from
    its stored readings now (and remembered)."""
    assert row.built
    kept = _kept_for(session)
    found = kept.get(row.key)
    if found is not None:
        check, layers = found
        return CheckedWindow(replace(check, anchor_id=row.anchor_id, committed_root=row.root), layers.ids,
                             kept=layers)
    batch = session.get(MeterBatch, row.id)
    assert batch is not None
    session.refresh(batch)  # the rebuild reads the batch's fields as they are now
    window = rebuild_window(session, batch)
    # Remembered only if the revision read before the readings is still the batch's after them (a concurrent
    # edit in between leaves this rebuild unremembered: the next trace rebuilds again).
    if _row_of(batch).key == row.key and _revision(session, row.id) == row.readings_revision:
        kept.put(row.key, _summary(window), KeptLayers.of(window))
    return CheckedWindow(window, sorted(window.readings), full=window)


def _row_of(batch: MeterBatch) -> BatchRow:
    return BatchRow(batch.id, batch.anchor_id, batch.enterprise_org_id, batch.window_start, batch.window_end,
                    batch.factor_set, batch.status, batch.root, batch.readings_revision, batch.built_at,
                    batch.total_mg, batch.reading_count)


def _revision(session: Session, batch_id: int) -> int | None:
    return session.scalar(select(MeterBatch.readings_revision).where(MeterBatch.id == batch_id))
