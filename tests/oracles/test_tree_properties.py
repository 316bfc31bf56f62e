"""Properties of the window tree: every reading proves into the root, any change breaks the proof,
and the subtotals on a path are the sums of the readings below them."""

from __future__ import annotations

import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st

from oracles import merkle_sum as ms
from oracles.trees import TreeLeaf, build_window_tree

ORG = 11

place = st.tuples(st.integers(0, 2), st.integers(0, 2), st.integers(0, 3))  # facility, workshop, device
reading = st.tuples(place, st.integers(0, 10**6), st.integers(0, 10**12))  # place, timestamp, value
windows = st.lists(reading, min_size=1, max_size=40)


def leaves(readings) -> list[TreeLeaf]:
    out = []
    for seq, ((f, w, d), ts, value) in enumerate(readings):
        facility, workshop, device = f"F{f}", f"F{f}-W{w}", f"F{f}-W{w}-D{d}"
        digest = hashlib.sha256(f"{device}:{seq}".encode()).digest()
        out.append(TreeLeaf(facility, workshop, device, ts, seq, ms.leaf(digest, value)))  # digest_of(leaf)
    return out


def each_proof(tree):
    for device, readings in tree.readings.items():
        for position, r in enumerate(readings):
            yield r, tree.proof(device, position)


@settings(max_examples=60, deadline=None)
@given(windows)
def test_every_reading_proves_into_the_root_with_the_subtotals_of_its_path(readings):
    all_leaves = leaves(readings)
    tree = build_window_tree(ORG, all_leaves)
    assert tree.root.sum == sum(r[2] for r in readings) and tree.root.count == len(readings)
    for r, steps in each_proof(tree):
        subtotals = ms.verify(digest_of(r), r.leaf.sum, steps, tree.root.hash)
        assert subtotals is not None
        device_sum = sum(x.leaf.sum for x in all_leaves if x.device == r.device)
        workshop_sum = sum(x.leaf.sum for x in all_leaves if x.workshop == r.workshop)
        facility_sum = sum(x.leaf.sum for x in all_leaves if x.facility == r.facility)
        assert [(t.level, t.sum) for t in subtotals] == [
            (1, device_sum), (2, workshop_sum), (3, facility_sum), (4, tree.root.sum)]
        assert subtotals[0].id == ms.labelled_id(r.device) and subtotals[3].id == ms.enterprise_id(ORG)


def digest_of(leaf: TreeLeaf) -> bytes:
    return hashlib.sha256(f"{leaf.device}:{leaf.sequence}".encode()).digest()


@settings(max_examples=60, deadline=None)
@given(windows, st.data())
def test_changing_a_value_a_digest_or_any_sibling_breaks_the_proof(readings, data):
    tree = build_window_tree(ORG, leaves(readings))
    r, steps = data.draw(st.sampled_from(list(each_proof(tree))))
    digest, root = digest_of(r), tree.root.hash
    assert ms.verify(digest, r.leaf.sum, steps, root) is not None
    assert ms.verify(digest, r.leaf.sum + 1, steps, root) is None
    assert ms.verify(hashlib.sha256(digest).digest(), r.leaf.sum, steps, root) is None
    for i, step in enumerate(steps):
        forged = list(steps)
        if step.kind == ms.STEP_LEVEL:
            forged[i] = step._replace(data=hashlib.sha256(step.data).digest())
        else:
            change = data.draw(st.sampled_from(["sum", "count", "hash"]))
            forged[i] = (step._replace(sum=step.sum + 1) if change == "sum"
                         else step._replace(count=step.count + 1) if change == "count"
                         else step._replace(data=hashlib.sha256(step.data).digest()))
        assert ms.verify(digest, r.leaf.sum, forged, root) is None


@settings(max_examples=60, deadline=None)
@given(windows)
def test_subtotals_add_up_at_every_level(readings):
    tree = build_window_tree(ORG, leaves(readings))
    upper = tree.upper
    for key, workshop in upper.workshops.items():
        devices = upper.workshop_devices[key]
        assert workshop.node.sum == sum(upper.device_nodes[d].node.sum for d in devices)
        assert workshop.node.count == sum(upper.device_nodes[d].node.count for d in devices)
    for facility, node in upper.facilities.items():
        assert node.node.sum == sum(upper.workshops[(facility, w)].node.sum for w in upper.facility_workshops[facility])
    assert upper.root.sum == sum(upper.facilities[f].node.sum for f in upper.facility_order)
    assert upper.facilities_root.sum == upper.root.sum and upper.facilities_root.count == upper.root.count


@settings(max_examples=30, deadline=None)
@given(windows, st.randoms(use_true_random=False))
def test_the_root_does_not_depend_on_the_order_readings_arrive_in(readings, rnd):
    shuffled = leaves(readings)
    rnd.shuffle(shuffled)
    assert build_window_tree(ORG, shuffled).root == build_window_tree(ORG, leaves(readings)).root
