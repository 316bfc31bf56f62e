"""Serve the proof of any committed reading from SQL, and check it in Python or through `MeterAnchor`.

Only the reading's own device is re-paired from its stored leaf hashes; the levels above
come from the batch's stored device nodes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger_service.db.models import BatchStatus, CommittedNode, MeterBatch, MeterDevice, Reading
from oracles import merkle_sum as ms
from oracles.canonical import ReadingRecord, factor_set_hash, record_digest
from oracles.merkle_sum import Node, Step
from oracles.trees import DeviceNode, EnterpriseTree, device_tree


class ReadingNotCommitted(LookupError):
    """The reading does not exist, or its window has not been built yet."""


class StoredDataInconsistent(RuntimeError):
    """What SQL holds does not reproduce the committed digest or root."""


@dataclass(frozen=True)
class LabelledSubtotal:
    level: int
    level_name: str
    label: str
    id: bytes
    sum_mg: int
    count: int


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

    def verify(self) -> list[ms.Subtotal] | None:
        """The subtotals on the path if the proof leads to the root, else None (pure Python)."""
        if record_digest(self.record) != self.digest:
            return None
        return ms.verify(self.digest, self.value_mg, self.steps, self.root)

    def as_json(self) -> dict[str, Any]:
        return {
            "readingId": self.reading_id,
            "batchId": self.batch_id,
            "anchorId": self.anchor_id,
            "enterpriseOrgId": self.enterprise_org_id,
            "window": [self.window_start, self.window_end],
            "digest": "0x" + self.digest.hex(),
            "valueMg": str(self.value_mg),
            "record": {  # the canonical reading record, so that anyone can recompute `digest`
                "deviceId": "0x" + self.record.device_hash.hex(), "sequence": self.record.sequence,
                "timestamp": self.record.timestamp, "quantity": self.record.quantity, "unit": self.record.unit,
                "carrier": self.record.carrier, "factorSetId": "0x" + self.record.factor_set_hash.hex(),
                "scope": self.record.scope, "value": str(self.record.value),
            },
            "root": "0x" + self.root.hex(),
            "proof": [
                {"kind": s.kind, "level": s.level, "data": "0x" + s.data.hex(), "sum": str(s.sum), "count": s.count}
                for s in self.steps
            ],
            "subtotals": [
                {"level": t.level, "name": t.level_name, "label": t.label, "id": "0x" + t.id.hex(),
                 "sumMg": str(t.sum_mg), "count": t.count}
                for t in self.subtotals
            ],
        }


def prove_reading(session: Session, reading_id: int) -> ReadingProof:
    """The proof of a committed reading; raises `ReadingNotCommitted` if there is none yet."""
    found = session.execute(
        select(Reading, MeterDevice, MeterBatch)
        .join(MeterDevice, MeterDevice.id == Reading.device_pk)
        .join(MeterBatch, MeterBatch.id == Reading.batch_id)
        .where(Reading.id == reading_id)
    ).first()
    if found is None:
        raise ReadingNotCommitted(f"no reading {reading_id}")
    reading, device, batch = found
    if batch.status == BatchStatus.OPEN or batch.root is None:
        raise ReadingNotCommitted(f"reading {reading_id} is in batch {batch.id}, which is still open")
    record = ReadingRecord(
        device.device_hash, reading.sequence, reading.timestamp, reading.quantity, reading.unit, reading.carrier,
        factor_set_hash(batch.factor_set), reading.scope, reading.value_mg,
    )
    if record_digest(record) != reading.digest:
        raise StoredDataInconsistent(f"reading {reading_id}: stored fields do not reproduce its digest")

    leaves = session.execute(
        select(Reading.id, Reading.leaf_hash, Reading.value_mg)
        .where(Reading.batch_id == batch.id, Reading.device_pk == device.id)
        .order_by(Reading.timestamp, Reading.sequence)
    ).all()
    position = next(i for i, row in enumerate(leaves) if row[0] == reading_id)
    own = device_tree(device.device_id, [Node(h, v, 1) for _, h, v in leaves])

    level_rows = session.execute(
        select(CommittedNode.label, CommittedNode.facility, CommittedNode.workshop, CommittedNode.hash,
               CommittedNode.sum_mg, CommittedNode.count)
        .where(CommittedNode.batch_id == batch.id, CommittedNode.level == ms.LEVEL_DEVICE)
    ).all()
    upper = EnterpriseTree.build(
        batch.enterprise_org_id,
        [DeviceNode(f or "", w or "", label, Node(h, s, c)) for label, f, w, h, s, c in level_rows],
    )
    if upper.device_nodes[device.device_id].node != own.node or upper.root.hash != batch.root:
        raise StoredDataInconsistent(f"batch {batch.id}: stored nodes do not reproduce its root")
    steps = [*own.steps(position), *upper.steps_above(device.device_id)]
    _, subtotals = ms.fold(ms.leaf(reading.digest, reading.value_mg), steps)
    labels = {
        ms.LEVEL_DEVICE: device.device_id,
        ms.LEVEL_WORKSHOP: device.workshop,
        ms.LEVEL_FACILITY: device.facility,
        ms.LEVEL_ENTERPRISE: str(batch.enterprise_org_id),
    }
    return ReadingProof(
        reading_id=reading_id,
        batch_id=batch.id,
        anchor_id=batch.anchor_id,
        enterprise_org_id=batch.enterprise_org_id,
        window_start=batch.window_start,
        window_end=batch.window_end,
        record=record,
        digest=reading.digest,
        value_mg=reading.value_mg,
        steps=steps,
        root=batch.root,
        subtotals=[
            LabelledSubtotal(t.level, ms.LEVEL_NAMES[t.level], labels[t.level], t.id, t.sum, t.count)
            for t in subtotals
        ],
    )
