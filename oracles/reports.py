"""The report commitment (level 5 of contracts/COMMITMENTS.md): what an emission report is built from.

A report commits to the anchors of its enterprise for the reporting period, in anchor
order: `level(5, enterpriseId, root(anchor nodes))`. Its sum and count are the period's
anchored mgCO2e and readings, so a reading proves into the report as well as into its anchor.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger_core.db.models import BatchStatus, MeterBatch
from oracles import merkle_sum as ms
from oracles.measures import MEASURE_EMISSIONS


@dataclass(frozen=True)
class ReportCommitment:
    enterprise_org_id: int
    anchor_ids: tuple[int, ...]
    tree: ms.LabelledTree

    @property
    def root(self) -> bytes:
        return self.tree.node.hash

    @property
    def total_mg(self) -> int:
        return self.tree.node.sum

    @property
    def reading_count(self) -> int:
        return self.tree.node.count

    def steps_from_anchor(self, anchor_id: int) -> list[ms.Step]:
        """From an anchor's root up to the report commitment: append to a reading's anchor proof."""
        return self.tree.steps(self.anchor_ids.index(anchor_id))


def period_node(enterprise_org_id: int, anchor_nodes: Sequence[ms.Node]) -> ms.Node:
    """The level-5 node over anchor roots already in anchor order (what a report stores as its root)."""
    if not anchor_nodes:
        raise ValueError("a report commits to at least one anchor")
    return ms.LabelledTree.build(ms.LEVEL_PERIOD, ms.enterprise_id(enterprise_org_id), anchor_nodes).node


def report_commitment(enterprise_org_id: int, anchors: Sequence[tuple[int, ms.Node]]) -> ReportCommitment:
    """The commitment over `(anchor id, anchor root node)` pairs, taken in anchor-id order."""
    if not anchors:
        raise ValueError("a report commits to at least one anchor")
    ordered = sorted(anchors, key=lambda a: a[0])
    tree = ms.LabelledTree.build(ms.LEVEL_PERIOD, ms.enterprise_id(enterprise_org_id), [n for _, n in ordered])
    return ReportCommitment(enterprise_org_id, tuple(a for a, _ in ordered), tree)


def anchored_period_commitment(session: Session, enterprise_org_id: int, start: int, end: int) -> ReportCommitment:
    """The commitment over every anchored emissions window of an enterprise inside [start, end) (production
    windows of generation meters are not emissions)."""
    batches = session.scalars(
        select(MeterBatch)
        .where(
            MeterBatch.enterprise_org_id == enterprise_org_id,
            MeterBatch.measure == MEASURE_EMISSIONS,
            MeterBatch.status == BatchStatus.ANCHORED,
            MeterBatch.window_start >= start,
            MeterBatch.window_end <= end,
        )
        .order_by(MeterBatch.anchor_id)
    ).all()
    return report_commitment(
        enterprise_org_id,
        [(int(b.anchor_id or 0), ms.Node(bytes(b.root or b""), b.total_mg, b.reading_count)) for b in batches],
    )
