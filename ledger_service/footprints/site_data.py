"""A site's anchored emissions for a period, as the footprint arithmetic takes them (`compute.SiteSubtotal`).

A site is a facility, or a workshop of a facility, of an enterprise's metering hierarchy. For every emissions
window of the enterprise that the chain holds an anchor for (the index's `Anchored` events) and that lies inside
the period, the site's subtotal is its level node in the window's committed Merkle-sum tree: the facility or
workshop node whose sum the anchor's root commits to, provable down to each reading (`oracles.proofs`). A window
in which the site had no reading has no node and adds nothing. Windows stored but not anchored on chain are left
out: a footprint is computed from commitments anyone can check.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger_core.db.models import BatchStatus, ChainAnchor, CommittedNode, MeterBatch
from ledger_service.footprints.compute import SiteSubtotal
from oracles import merkle_sum as ms
from oracles.measures import MEASURE_EMISSIONS


def site_label(facility: str, workshop: str | None) -> str:
    """The label the subtotals carry: the workshop's where one is named, else the facility's."""
    return workshop or facility


def _utc(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def site_subtotals(session: Session, org_id: int, facility: str, workshop: str | None, start: int,
                   end: int) -> list[SiteSubtotal]:
    """The site's subtotal in every anchored emissions window of the enterprise inside `[start, end)` (UTC
    seconds), in window order."""
    node = CommittedNode
    level = ms.LEVEL_WORKSHOP if workshop else ms.LEVEL_FACILITY
    query = (
        select(ChainAnchor.anchor_id, ChainAnchor.window_start, ChainAnchor.window_end, node.sum_mg)
        .join(MeterBatch, MeterBatch.anchor_id == ChainAnchor.anchor_id)
        .join(node, node.batch_id == MeterBatch.id)
        .where(ChainAnchor.enterprise_org_id == org_id, ChainAnchor.measure == MEASURE_EMISSIONS,
               MeterBatch.status == BatchStatus.ANCHORED, MeterBatch.window_start == ChainAnchor.window_start,
               ChainAnchor.window_start >= start, ChainAnchor.window_end <= end,
               node.level == level, node.label == site_label(facility, workshop))
        .order_by(ChainAnchor.window_start))
    if workshop:
        query = query.where(node.facility == facility)
    label = site_label(facility, workshop)
    return [SiteSubtotal(int(anchor_id), _utc(w_start), _utc(w_end), label, int(mg))
            for anchor_id, w_start, w_end, mg in session.execute(query)]
