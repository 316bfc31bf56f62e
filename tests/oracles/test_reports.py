"""The level-5 report commitment over an enterprise's anchors."""

from __future__ import annotations

import pytest

from oracles import merkle_sum as ms
from oracles.reports import report_commitment


def _anchor(i: int) -> ms.Node:
    return ms.level_node(ms.LEVEL_ENTERPRISE, ms.enterprise_id(11), ms.leaf(ms.labelled_id(f"r{i}"), 1000 * i))


def test_the_commitment_sums_its_anchors_and_is_independent_of_input_order():
    anchors = [(7, _anchor(1)), (3, _anchor(2)), (9, _anchor(3))]
    commitment = report_commitment(11, anchors)
    assert commitment.anchor_ids == (3, 7, 9)
    assert commitment.total_mg == 6000 and commitment.reading_count == 3
    assert commitment.root == report_commitment(11, list(reversed(anchors))).root


def test_a_reading_proves_from_its_anchor_into_the_report():
    anchor_steps = [ms.Step(ms.STEP_LEVEL, ms.LEVEL_ENTERPRISE, ms.enterprise_id(11), 0, 0)]
    commitment = report_commitment(11, [(1, _anchor(1)), (2, _anchor(2)), (3, _anchor(3))])
    steps = anchor_steps + commitment.steps_from_anchor(2)
    subtotals = ms.verify(ms.labelled_id("r2"), 2000, steps, commitment.root)
    assert subtotals is not None
    assert [(t.level, t.sum) for t in subtotals] == [(4, 2000), (5, 6000)]


def test_a_report_needs_at_least_one_anchor():
    with pytest.raises(ValueError, match="at least one anchor"):
        report_commitment(11, [])
