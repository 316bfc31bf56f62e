"""Close windows: build the tree of every open batch whose window has ended, and store its level nodes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from ledger_core.db.base import table_of
from ledger_core.db.models import BatchStatus, CommittedNode, MeterBatch, MeterDevice, Reading
from oracles import merkle_sum as ms
from oracles.merkle_sum import Node
from oracles.trees import DeviceNode, EnterpriseTree

MAX_BATCH_MG = (1 << 63) - 1


@dataclass(frozen=True)
class BuiltBatch:
    batch_id: int
    enterprise_org_id: int
    window_start: int
    window_end: int
    factor_set: str
    root: bytes
    facilities_root: Node
    total_mg: int
    reading_count: int
    factor_sets: tuple[str, ...] = ()  # every set that valued a reading of the window (SQL only, not on chain)
    measure: int = 0  # 0 emissions (sums in mgCO2e), 1 electricity produced (sums in Wh)


def _built(batch: MeterBatch) -> BuiltBatch:
    assert batch.root is not None and batch.facilities_root is not None
    return BuiltBatch(
        batch.id, batch.enterprise_org_id, batch.window_start, batch.window_end, batch.factor_set, batch.root,
        Node(batch.facilities_root, batch.total_mg, batch.reading_count), batch.total_mg, batch.reading_count,
        tuple(batch.factor_sets.split(",")) if batch.factor_sets else (batch.factor_set,), batch.measure,
    )


def built_batch(batch: MeterBatch) -> BuiltBatch:
    """The commitment of a batch that is built (or further)."""
    if batch.status == BatchStatus.OPEN:
        raise ValueError(f"batch {batch.id} is still open")
    return _built(batch)


def device_places(session: Session) -> dict[int, tuple[str, str, str]]:
    """device pk -> (facility, workshop, device id)."""
    rows = session.execute(select(MeterDevice.id, MeterDevice.facility, MeterDevice.workshop, MeterDevice.device_id))
    return {pk: (facility, workshop, device) for pk, facility, workshop, device in rows}


def build_batch(
    session: Session, batch: MeterBatch, places: dict[int, tuple[str, str, str]] | None = None
) -> BuiltBatch:
    """Compute the tree of an open batch from its stored leaves, store its level nodes, mark it built."""
    if batch.status != BatchStatus.OPEN:
        raise ValueError(f"batch {batch.id} is already {batch.status}")
    places = places if places is not None else device_places(session)
    rows = session.execute(
        select(Reading.device_pk, Reading.leaf_hash, Reading.value_mg)
        .where(Reading.batch_id == batch.id)
        .order_by(Reading.device_pk, Reading.timestamp, Reading.sequence)
    )
    device_nodes: list[DeviceNode] = []
    current_pk: int | None = None
    leaves: list[Node] = []

    def close_device() -> None:
        if current_pk is not None and leaves:
            facility, workshop, device = places[current_pk]
            node = ms.level_node(ms.LEVEL_DEVICE, ms.labelled_id(device), ms.root(leaves))
            device_nodes.append(DeviceNode(facility, workshop, device, node))

    for device_pk, leaf_hash, value in rows:
        if device_pk != current_pk:
            close_device()
            current_pk, leaves = device_pk, []
        leaves.append(Node(leaf_hash, value, 1))
    close_device()
    tree = EnterpriseTree.build(batch.enterprise_org_id, device_nodes)
    if tree.root.sum > MAX_BATCH_MG:
        raise OverflowError(f"batch {batch.id} totals {tree.root.sum} mg, beyond the stored range")
    session.execute(
        insert(table_of(CommittedNode)),
        [
            {"batch_id": batch.id, "level": n.level, "label": n.label, "facility": n.facility, "workshop": n.workshop,
             "node_id": n.node_id, "hash": n.node.hash, "sum_mg": n.node.sum, "count": n.node.count}
            for n in tree.level_nodes()
        ],
    )
    used = session.scalars(
        select(func.coalesce(Reading.factor_set, batch.factor_set)).where(Reading.batch_id == batch.id).distinct()
    ).all()
    batch.factor_sets = ",".join(sorted(set(used))) or batch.factor_set
    batch.facilities_root = tree.facilities_root.hash
    batch.root = tree.root.hash
    batch.total_mg = tree.root.sum
    batch.reading_count = tree.root.count
    batch.status = BatchStatus.BUILT
    batch.built_at = datetime.now(UTC)
    session.flush()
    return _built(batch)


def build_closed_batches(
    session: Session, closed_before: int, progress: Callable[[BuiltBatch], None] | None = None
) -> list[BuiltBatch]:
    """Build every open batch whose window ended at or before `closed_before` (seconds, UTC).

    Each batch is committed as soon as it is built, so an interrupted run keeps its work.
    """
    places = device_places(session)
    batches = session.scalars(
        select(MeterBatch)
        .where(MeterBatch.status == BatchStatus.OPEN, MeterBatch.window_end <= closed_before)
        .order_by(MeterBatch.enterprise_org_id, MeterBatch.window_start)
    ).all()
    built = []
    for batch in batches:
        result = build_batch(session, batch, places)
        session.commit()
        built.append(result)
        if progress is not None:
            progress(result)
    return built
