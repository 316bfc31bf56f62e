"""A supplier's site totals proved to its anchors without its readings: for a published EPD, each subtotal its
provenance record names (the facility's or workshop's node in an anchored emissions window) with the Merkle-sum
path from that node up to the anchored root — sibling hashes, sums and counts, never a reading — and the anchor's
record (and batch path) that `MeterAnchor.isAnchored` checks.

A customer recomputes the provenance commitment from the record (the EPD publishes it), folds each node with its
steps to the record's root, and asks the chain whether the record is anchored: the supplier's totals are then
proved as committed, while its readings stay behind the meter-data access rules. The paths come from the window's
stored device nodes (level 1), from which the upper tree is rebuilt, and are checked here against the indexed
anchor's root before they are shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger_core.db.models import BatchStatus, ChainAnchor, CommittedNode, MeterBatch
from ledger_service.audit.anchor_index import indexed_window
from oracles import merkle_sum as ms
from oracles.anchor_records import AnchoredWindow, window_json
from oracles.measures import MEASURE_EMISSIONS
from oracles.trees import DeviceNode, EnterpriseTree


@dataclass(frozen=True)
class SiteProof:
    """One provenance subtotal: the site's node, its path to the anchored root, and the anchor."""

    anchor_id: int
    window_start: int
    window_end: int
    label: str
    mg: int  # as the provenance record states it
    level: int  # the node's level: 2 workshop, 3 facility (0 when not found)
    node: ms.Node | None
    steps: tuple[ms.Step, ...]
    anchored: AnchoredWindow | None

    @property
    def folds_to_root(self) -> bool:
        """The node with its steps gives the anchored root (and its last wrap is the enterprise's)."""
        if self.node is None or self.anchored is None or not self.steps:
            return False
        try:
            top, subtotals = ms.fold(self.node, self.steps)
        except (ms.InvalidProof, ValueError, OverflowError):
            return False
        return top.hash == self.anchored.record.root and subtotals[-1].level == ms.LEVEL_ENTERPRISE

    @property
    def matches(self) -> bool:
        """The path holds and the node's sum is the provenance's subtotal."""
        return self.folds_to_root and self.node is not None and self.node.sum == self.mg

    def as_json(self) -> dict[str, Any]:
        node = None if self.node is None else {"hash": "0x" + self.node.hash.hex(), "sum_mg": str(self.node.sum),
                                               "count": self.node.count}
        anchor = window_json(self.anchored) if self.anchored is not None else {"anchor_record": None,
                                                                               "anchor_batch": None}
        return {
            "anchor_id": self.anchor_id, "window_start": self.window_start, "window_end": self.window_end,
            "label": self.label, "level": self.level, "mg": str(self.mg), "node": node,
            "steps": [{"kind": s.kind, "level": s.level, "data": "0x" + s.data.hex(), "sum": str(s.sum),
                       "count": s.count} for s in self.steps],
            **anchor, "folds_to_root": self.folds_to_root, "matches": self.matches,
        }


def _seconds(value: Any) -> int:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return int(moment.timestamp())


def _upper_tree(session: Session, batch_id: int, org_id: int) -> EnterpriseTree | None:
    rows = session.execute(select(CommittedNode.label, CommittedNode.facility, CommittedNode.workshop,
                                  CommittedNode.hash, CommittedNode.sum_mg, CommittedNode.count)
                           .where(CommittedNode.batch_id == batch_id, CommittedNode.level == ms.LEVEL_DEVICE)).all()
    devices = [DeviceNode(str(f), str(w), str(label), ms.Node(bytes(h), int(s), int(c)))
               for label, f, w, h, s, c in rows]
    try:
        return EnterpriseTree.build(org_id, devices) if devices else None
    except ValueError:  # a device placed twice: no sound path
        return None


def _site_path(tree: EnterpriseTree, label: str) -> tuple[int, ms.Node, list[ms.Step]] | None:
    """The site's level, node and steps up to the enterprise wrap; a facility label first, then a workshop."""
    if label in tree.facilities:
        return (ms.LEVEL_FACILITY, tree.facilities[label].node,
                tree.enterprise.steps(tree.facility_order.index(label)))
    for (facility, workshop), subtree in tree.workshops.items():
        if workshop == label:
            return (ms.LEVEL_WORKSHOP, subtree.node, [
                *tree.facilities[facility].steps(tree.facility_workshops[facility].index(workshop)),
                *tree.enterprise.steps(tree.facility_order.index(facility))])
    return None


def site_proof(session: Session, owner_org_id: int, item: dict[str, Any]) -> SiteProof:
    """The proof of one provenance subtotal (`anchor_id`, `label`, `window_start`, `window_end`, `mg`)."""
    anchor_id, label, mg = int(item["anchor_id"]), str(item["label"]), int(item["mg"])
    start, end = _seconds(item["window_start"]), _seconds(item["window_end"])
    missing = SiteProof(anchor_id, start, end, label, mg, 0, None, (), None)
    anchor = session.scalar(select(ChainAnchor).where(
        ChainAnchor.anchor_id == anchor_id, ChainAnchor.enterprise_org_id == owner_org_id,
        ChainAnchor.measure == MEASURE_EMISSIONS, ChainAnchor.window_start == start, ChainAnchor.window_end == end))
    if anchor is None:
        return missing
    anchored = indexed_window(session, anchor)
    batch_id = session.scalar(select(MeterBatch.id).where(MeterBatch.anchor_id == anchor_id,
                                                          MeterBatch.status == BatchStatus.ANCHORED))
    tree = None if batch_id is None else _upper_tree(session, int(batch_id), owner_org_id)
    found = None if tree is None else _site_path(tree, label)
    if found is None:
        return SiteProof(anchor_id, start, end, label, mg, 0, None, (), anchored)
    level, node, steps = found
    return SiteProof(anchor_id, start, end, label, mg, level, node, tuple(steps), anchored)


def site_proofs(session: Session, owner_org_id: int, provenance: dict[str, Any]) -> list[SiteProof]:
    """Every subtotal of a provenance record, proved."""
    items = provenance.get("subtotals")
    return [site_proof(session, owner_org_id, item) for item in items if isinstance(item, dict)] \
        if isinstance(items, list) else []
