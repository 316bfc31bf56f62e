"""The level-5 report commitment of `contracts/COMMITMENTS.md`: an enterprise's anchor roots
(level-4 nodes, in anchor order) reduced to one node and wrapped at level 5."""

from __future__ import annotations

from collections.abc import Sequence

from oracles import merkle_sum as ms


def report_commitment(enterprise_org_id: int, anchors: Sequence[ms.Node]) -> ms.Node:
    """`level(5, enterpriseId, root(anchor roots))`; its sum and count are the period's mgCO2e and readings."""
    if not anchors:
        raise ValueError("a report commits to at least one anchor")
    return ms.LabelledTree.build(ms.LEVEL_PERIOD, ms.enterprise_id(enterprise_org_id), anchors).node
