"""Serve the proof of any committed reading from SQL, and check it in Python or through `MeterAnchor`.

A proof is never served from stored hashes alone: its whole window is rebuilt from the stored
readings (each record re-encoded and re-hashed, `RebuiltWindow`), and the proof is refused with
`StoredDataInconsistent` when that tree does not give the window's committed root (or the
anchored root the caller passes). An edited quantity or value therefore makes every reading of
its window unprovable, not only the edited one.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Any, NamedTuple

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from ledger_core.db.lists import dialect_of, in_param
from ledger_core.db.models import BatchStatus, MeterBatch, MeterDevice, Reading
from oracles import merkle_sum as ms
from oracles.canonical import ReadingRecord, factor_set_hash, record_digest
from oracles.merkle_sum import Node, Step
from oracles.trees import DeviceNode, EnterpriseTree, WindowTree, device_tree

_UNENCODABLE = b"\x00" * 32  # the digest given to a record that no longer encodes (it matches no root)


class ReadingNotCommitted(LookupError):
    """The reading does not exist, or its window has not been built yet."""


class StoredDataInconsistent(RuntimeError):
    """What SQL holds does not reproduce the committed digest or root of a window."""

    def __init__(self, reason: str, batch_id: int | None = None, enterprise_org_id: int | None = None,
                 window_start: int | None = None, window_end: int | None = None, anchor_id: int | None = None,
                 changed_readings: tuple[int, ...] = ()) -> None:
        super().__init__(reason)
        self.reason = reason
        self.batch_id = batch_id
        self.enterprise_org_id = enterprise_org_id
        self.window_start = window_start
        self.window_end = window_end
        self.anchor_id = anchor_id
        self.changed_readings = changed_readings

    def details(self) -> dict[str, Any]:
        """The window and the reason, for an error body."""
        return {"batchId": self.batch_id, "anchorId": self.anchor_id, "enterpriseOrgId": self.enterprise_org_id,
                "windowStart": self.window_start, "windowEnd": self.window_end,
                "changedReadings": list(self.changed_readings), "reason": self.reason}


@dataclass(frozen=True)
class LabelledSubtotal:
    level: int
    level_name: str
    label: str
    id: bytes
    sum_mg: int
    count: int


class _Folded(NamedTuple):
    """`ms.fold` of a leaf along a proof's steps, with what it was folded from."""

    digest: bytes
    value_mg: int
    steps: list[Step]
    node: Node
    subtotals: list[ms.Subtotal]


@dataclass(frozen=True)
class ReadingProof:
    """A reading's record digest and value, and the steps from its leaf to its anchor's root."""

    reading_id: int
    batch_id: int
    anchor_id: int | None
    enterprise_org_id: int
    window_start: int
    window_end: int
    record: ReadingRecord
    digest: bytes
    value_mg: int
    steps: list[Step]
    root: bytes
    subtotals: list[LabelledSubtotal]
    # Where `steps` lead from the leaf of `digest` and `value_mg`, with the subtotals on the way, when the window
    # that made the proof folded them to label its subtotals: `verify` compares that node with the root rather
    # than hashing the same path again, as long as the proof holds the digest, value and steps it was folded from.
    folded: _Folded | None = field(default=None, compare=False, repr=False)

    def verify(self) -> list[ms.Subtotal] | None:
        """The subtotals on the path if the proof leads to the root, else None (pure Python)."""
        if record_digest(self.record) != self.digest:
            return None
        folded = self.folded
        if folded is None or (folded.digest, folded.value_mg) != (self.digest, self.value_mg) or (
                folded.steps is not self.steps):
            return ms.verify(self.digest, self.value_mg, self.steps, self.root)
        return folded.subtotals if folded.node.hash == self.root else None

    def record_json(self) -> dict[str, Any]:
        """The canonical reading record, so that anyone can recompute `digest` (contracts/COMMITMENTS.md)."""
        record = self.record
        return {"deviceId": "0x" + record.device_hash.hex(), "sequence": record.sequence,
                "timestamp": record.timestamp, "quantity": record.quantity, "unit": record.unit,
                "carrier": record.carrier, "factorSetId": "0x" + record.factor_set_hash.hex(),
                "scope": record.scope, "value": str(record.value)}

    def as_json(self) -> dict[str, Any]:
        """The proof bundle in the one naming of contracts/COMMITMENTS.md ("Proof bundles"), the API's."""
        return {
            "reading_id": self.reading_id,
            "batch_id": self.batch_id,
            "anchor_id": self.anchor_id,
            "enterprise_org_id": self.enterprise_org_id,
            "window_start": self.window_start,
            "window_end": self.window_end,
            "digest": "0x" + self.digest.hex(),
            "value_mg": str(self.value_mg),
            "record": self.record_json(),
            "root": "0x" + self.root.hex(),
            "steps": [
                {"kind": s.kind, "level": s.level, "data": "0x" + s.data.hex(), "sum": str(s.sum), "count": s.count}
                for s in self.steps
            ],
            "subtotals": [
                {"level": t.level, "name": t.level_name, "label": t.label, "id": "0x" + t.id.hex(),
                 "sum_mg": str(t.sum_mg), "count": t.count}
                for t in self.subtotals
            ],
        }


@dataclass(frozen=True)
class StoredReading:
    """A reading as SQL holds it, with the record re-encoded from its stored fields."""

    reading_id: int
    device: str
    facility: str
    workshop: str
    factor_set: str  # the id of the set that valued it
    record: ReadingRecord
    stored_digest: bytes
    stored_leaf: bytes
    digest: bytes  # recomputed from the stored fields

    @property
    def changed(self) -> bool:
        """The stored fields no longer give the stored digest and leaf."""
        return self.digest != self.stored_digest or ms.leaf(self.digest, self.record.value).hash != self.stored_leaf


@dataclass(frozen=True)
class RebuiltWindow:
    """One built window's tree recomputed from its stored readings (not from stored hashes or nodes)."""

    batch_id: int
    anchor_id: int | None
    enterprise_org_id: int
    window_start: int
    window_end: int
    factor_set: str
    committed_root: bytes | None  # the batch's root as stored
    readings: dict[int, StoredReading]
    device_order: dict[str, list[int]]  # device -> reading ids in leaf order
    tree: WindowTree | None  # None for a window without readings
    changed_readings: tuple[int, ...] = field(default=())
    positions: dict[int, int] = field(default_factory=dict)  # reading id -> its leaf's place in its device
    # reading id -> its steps up to the root, for a window kept without its device layers (`KeptLayers`)
    proved_steps: dict[int, list[Step]] = field(default_factory=dict)

    @property
    def root(self) -> Node | None:
        return None if self.tree is None else self.tree.root

    def problem(self, anchored_root: bytes | None = None) -> str | None:
        """Why the stored readings do not reproduce the window's committed (and anchored) root; None if they do."""
        where = (f"batch {self.batch_id} (enterprise {self.enterprise_org_id}, window {self.window_start}-"
                 f"{self.window_end}" + (f", anchor {self.anchor_id})" if self.anchor_id is not None else ")"))
        changed = ""
        if self.changed_readings:
            shown = ", ".join(map(str, self.changed_readings[:10]))
            more = f" and {len(self.changed_readings) - 10} more" if len(self.changed_readings) > 10 else ""
            changed = f"; readings whose stored fields no longer give their digest: {shown}{more}"
        if self.tree is None:
            return f"{where}: no stored readings{changed}"
        root = self.tree.root
        if self.committed_root != root.hash:
            stored = "0x" + self.committed_root.hex() if self.committed_root else "none"
            return (f"{where}: its stored readings give root 0x{root.hash.hex()} ({root.sum} mg, {root.count} "
                    f"readings), not the committed root {stored}{changed}")
        if anchored_root is not None and anchored_root != root.hash:
            return (f"{where}: its stored readings give root 0x{root.hash.hex()}, not the anchored root "
                    f"0x{anchored_root.hex()}{changed}")
        if self.changed_readings:
            return f"{where}: the root still matches{changed}"
        return None

    def inconsistency(self, anchored_root: bytes | None = None) -> StoredDataInconsistent | None:
        reason = self.problem(anchored_root)
        if reason is None:
            return None
        return StoredDataInconsistent(reason, self.batch_id, self.enterprise_org_id, self.window_start,
                                      self.window_end, self.anchor_id, self.changed_readings)

    def proof(self, reading_id: int, anchored_root: bytes | None = None) -> ReadingProof:
        """The proof of one of the window's readings; raises `StoredDataInconsistent` if the window is not
        reproduced by its stored readings."""
        error = self.inconsistency(anchored_root)
        if error is not None:
            raise error
        assert self.tree is not None and self.committed_root is not None
        reading = self.readings[reading_id]
        steps = self.proved_steps.get(reading_id) or self.tree.proof(reading.device, self.positions[reading_id])
        node, subtotals = ms.fold(ms.leaf(reading.digest, reading.record.value), steps)
        labels = {
            ms.LEVEL_DEVICE: reading.device,
            ms.LEVEL_WORKSHOP: reading.workshop,
            ms.LEVEL_FACILITY: reading.facility,
            ms.LEVEL_ENTERPRISE: str(self.enterprise_org_id),
        }
        return ReadingProof(
            reading_id=reading_id,
            batch_id=self.batch_id,
            anchor_id=self.anchor_id,
            enterprise_org_id=self.enterprise_org_id,
            window_start=self.window_start,
            window_end=self.window_end,
            record=reading.record,
            digest=reading.digest,
            value_mg=reading.record.value,
            steps=steps,
            root=self.committed_root,
            subtotals=[
                LabelledSubtotal(t.level, ms.LEVEL_NAMES[t.level], labels[t.level], t.id, t.sum, t.count)
                for t in subtotals
            ],
            folded=_Folded(reading.digest, reading.record.value, steps, node, subtotals),
        )


def _digest(record: ReadingRecord) -> bytes:
    try:
        return record_digest(record)
    except (ValueError, OverflowError):  # a field edited into something the record cannot encode
        return _UNENCODABLE


_COLUMNS = (Reading.id, Reading.sequence, Reading.timestamp, Reading.quantity, Reading.unit, Reading.carrier,
            Reading.scope, Reading.value_mg, Reading.digest, Reading.leaf_hash, MeterDevice.device_id,
            MeterDevice.device_hash, MeterDevice.facility, MeterDevice.workshop, Reading.factor_set)


def _stored(row: Any, batch_set: str, batch_set_hash: bytes) -> StoredReading:
    """A reading row of `_COLUMNS` re-encoded; `batch_set` is its batch's factor set."""
    (rid, seq, ts, quantity, unit, carrier, scope, value, digest, leaf_hash, device, device_hash, facility,
     workshop, reading_set) = row  # a reading's own set (chosen by its time); NULL on older rows
    record = ReadingRecord(device_hash, seq, ts, quantity, unit, carrier,
                           factor_set_hash(reading_set) if reading_set else batch_set_hash, scope, value)
    return StoredReading(rid, device, facility, workshop, reading_set or batch_set, record, digest, leaf_hash,
                         _digest(record))


def rebuild_window(session: Session, batch: MeterBatch) -> RebuiltWindow:
    """Re-encode and re-hash every stored reading of a built batch and rebuild its tree."""
    if batch.status == BatchStatus.OPEN:
        raise ReadingNotCommitted(f"batch {batch.id} is still open")
    fs_hash = factor_set_hash(batch.factor_set)
    rows = session.execute(
        select(*_COLUMNS)
        .join(MeterDevice, MeterDevice.id == Reading.device_pk)
        .where(Reading.batch_id == batch.id)
        .order_by(Reading.device_pk, Reading.timestamp, Reading.sequence)
    ).all()
    readings: dict[int, StoredReading] = {}
    order: dict[str, list[int]] = defaultdict(list)
    places: dict[str, tuple[str, str]] = {}
    for row in rows:
        stored = readings[row[0]] = _stored(row, batch.factor_set, fs_hash)
        order[stored.device].append(stored.reading_id)
        places.setdefault(stored.device, (stored.facility, stored.workshop))
    tree = None
    if readings:
        devices = {}
        nodes = []
        for device, ids in order.items():
            devices[device] = device_tree(
                device, [ms.leaf(readings[i].digest, readings[i].record.value) for i in ids])
            facility, workshop = places[device]
            nodes.append(DeviceNode(facility, workshop, device, devices[device].node))
        tree = WindowTree(devices, {}, EnterpriseTree.build(batch.enterprise_org_id, nodes))
    return RebuiltWindow(
        batch_id=batch.id, anchor_id=batch.anchor_id, enterprise_org_id=batch.enterprise_org_id,
        window_start=batch.window_start, window_end=batch.window_end, factor_set=batch.factor_set,
        committed_root=batch.root, readings=readings, device_order=dict(order), tree=tree,
        changed_readings=tuple(r.reading_id for r in readings.values() if r.changed),
        positions={rid: i for ids in order.values() for i, rid in enumerate(ids)},
    )


CHUNK_LEAVES = 16  # a device's leaves are kept as the nodes over each 16 of them (layer 4 of its tree)
_CHUNK_LAYER = 4


@dataclass(frozen=True)
class KeptLayers:
    """What a proof needs of a window's device layers once the window was found to be given by its stored readings,
    kept small: the readings in leaf order, where each is, and each device's nodes over every `CHUNK_LEAVES` of
    its leaves. A reading is then proved by re-pairing only its own chunk from its stored rows."""

    ids: array[int]  # reading ids, ascending
    leaf_index: array[int]  # for ids[i]: its place in `leaf_order`
    leaf_order: array[int]  # reading ids, device after device, each in leaf order
    starts: array[int]  # where each device's run begins in `leaf_order`, ascending
    devices: tuple[str, ...]  # the device of each run
    chunks: tuple[tuple[Node, ...], ...]  # each device's nodes over its chunks of leaves

    @classmethod
    def of(cls, window: RebuiltWindow) -> KeptLayers:
        leaf_order: array[int] = array("q")
        starts: array[int] = array("q")
        chunks = []
        for device, run in window.device_order.items():
            starts.append(len(leaf_order))
            leaf_order.extend(run)
            assert window.tree is not None
            layers = window.tree.devices[device].layers
            chunks.append(tuple(layers[min(_CHUNK_LAYER, len(layers) - 1)]))
        place = {rid: i for i, rid in enumerate(leaf_order)}
        ids = array("q", sorted(place))
        return cls(ids, array("q", (place[rid] for rid in ids)), leaf_order, starts, tuple(window.device_order),
                   tuple(chunks))

    def chunk_of(self, reading_id: int) -> tuple[int, int, list[int]] | None:
        """The run of the reading's device, its place in that device, and the ids of its chunk in leaf order."""
        i = bisect_left(self.ids, reading_id)
        if i == len(self.ids) or self.ids[i] != reading_id:
            return None
        at = self.leaf_index[i]
        run = bisect_right(self.starts, at) - 1
        start = self.starts[run]
        end = self.starts[run + 1] if run + 1 < len(self.starts) else len(self.leaf_order)
        position = at - start
        first = start + position // CHUNK_LEAVES * CHUNK_LEAVES
        return run, position, list(self.leaf_order[first:min(first + CHUNK_LEAVES, end)])


def prove_kept(session: Session, wanted: Sequence[tuple[RebuiltWindow, KeptLayers, int]]
               ) -> list[RebuiltWindow | None]:
    """For each (window, its kept layers, reading id) -- a window whose stored readings were found to give its
    tree, kept without its readings (only `tree.upper`) -- that window holding the reading with its steps to
    the root. One statement: the leaf hash and value of every reading in the wanted readings' chunks, each joined
    with its own row (`_COLUMNS`, to re-encode) when it is a wanted reading.

    Only the wanted readings are re-encoded; the other leaves of their chunks are their stored leaf hashes,
    which the check found equal to their re-encoded records, and each chunk must still give the node the check
    found. None, for a full rebuild instead, when it does not (or the reading is not in the window)."""
    places = [kept.chunk_of(reading_id) for _, kept, reading_id in wanted]
    ids = {rid for place in places if place is not None for rid in place[2]}  # each chunk holds its wanted reading
    proved = {reading_id for (_, _, reading_id), place in zip(wanted, places, strict=True) if place is not None}
    leaves: dict[int, Node] = {}
    rows: dict[int, Any] = {}
    if ids:
        for rid, leaf_hash, value_mg, *row in session.connection().execute(
                _chunk_rows(dialect_of(session)), {"proved_ids": sorted(proved), "chunk_ids": sorted(ids)}):
            leaves[rid] = Node(leaf_hash, value_mg, 1)
            if row[0] is not None:
                rows[rid] = row
    out: list[RebuiltWindow | None] = []
    for (checked, kept, reading_id), place in zip(wanted, places, strict=True):
        found = None
        if (place is not None and checked.tree is not None and reading_id in rows
                and all(rid in leaves for rid in place[2])):
            found = _with_chunk(checked, kept, place, reading_id, rows[reading_id], leaves)
        out.append(found)
    return out


@cache
def _chunk_rows(dialect: str) -> Select[Any]:
    """`prove_kept`'s statement, built once per dialect (built anew, it and its cache key were CPU of every trace;
    it is run on the session's connection, its rows taken without the ORM's result layer)."""
    # The neighbours' leaves only: decoding every column of every chunk's 16 rows was most of the statement's time,
    # so the wanted readings' rows come joined to their leaves (NULL for the neighbours).
    own = (select(*_COLUMNS).join(MeterDevice, MeterDevice.id == Reading.device_pk)
           .where(in_param(dialect, Reading.id, "proved_ids")).subquery())
    return (select(Reading.id, Reading.leaf_hash, Reading.value_mg, *own.c).outerjoin(own, own.c.id == Reading.id)
            .where(in_param(dialect, Reading.id, "chunk_ids")))


def _with_chunk(checked: RebuiltWindow, kept: KeptLayers, place: tuple[int, int, list[int]], reading_id: int,
                row: Any, leaves: dict[int, Node]) -> RebuiltWindow | None:
    run, position, chunk = place
    assert checked.tree is not None
    stored = _stored(row, checked.factor_set, factor_set_hash(checked.factor_set))
    leaf = ms.leaf(stored.digest, stored.record.value)
    device = kept.devices[run]
    # `stored.changed`, with the leaf hashed once
    if (stored.digest != stored.stored_digest or leaf.hash != stored.stored_leaf or leaf.hash != leaves[reading_id].hash
            or stored.device != device):
        return None
    chunk_layers = ms.layers([leaf if rid == reading_id else leaves[rid] for rid in chunk])
    index = position // CHUNK_LEAVES
    if chunk_layers[-1][0] != kept.chunks[run][index]:
        return None
    upper = ms.layers(kept.chunks[run])
    device_id = ms.labelled_id(device)
    node = ms.level_node(ms.LEVEL_DEVICE, device_id, upper[-1][0])
    held = checked.tree.upper.device_nodes.get(device)
    if held is None or (held.node, held.facility, held.workshop) != (node, stored.facility, stored.workshop):
        return None
    steps = [*ms.path(chunk_layers, position % CHUNK_LEAVES), *ms.path(upper, index),
             Step(ms.STEP_LEVEL, ms.LEVEL_DEVICE, device_id, 0, 0),
             *checked.tree.upper.steps_above(device)]
    return replace(checked, readings={reading_id: stored}, positions={reading_id: position},
                   proved_steps={reading_id: steps})


def prove_reading(session: Session, reading_id: int, anchored_root: bytes | None = None) -> ReadingProof:
    """The proof of a committed reading; raises `ReadingNotCommitted` if there is none yet, and
    `StoredDataInconsistent` if its window's stored readings no longer give the committed root (or
    `anchored_root`, when the caller read it from the chain)."""
    batch = session.scalar(select(MeterBatch).join(Reading, Reading.batch_id == MeterBatch.id)
                           .where(Reading.id == reading_id))
    if batch is None:
        raise ReadingNotCommitted(f"no reading {reading_id}")
    if batch.status == BatchStatus.OPEN or batch.root is None:
        raise ReadingNotCommitted(f"reading {reading_id} is in batch {batch.id}, which is still open")
    return rebuild_window(session, batch).proof(reading_id, anchored_root)
