"""The Python Merkle-sum implementation reproduces the shared test vectors of contracts/COMMITMENTS.md."""

from __future__ import annotations

import json
from pathlib import Path

from oracles import merkle_sum as ms
from scripts.gen_merkle_vectors import OUT, build

VECTORS = json.loads(Path(OUT).read_text())


def _node(d: dict) -> ms.Node:
    return ms.Node(bytes.fromhex(d["hash"][2:]), int(d["sum"]), d["count"])


def _steps(proof: list[dict]) -> list[ms.Step]:
    return [ms.Step(s["kind"], s["level"], bytes.fromhex(s["data"][2:]), int(s["sum"]), s["count"]) for s in proof]


def test_committed_vectors_are_what_the_generator_produces():
    assert build() == VECTORS


def test_leaf_pair_level_and_root_encodings_match_vectors():
    for v in VECTORS["leaves"]:
        assert ms.leaf(bytes.fromhex(v["digest"][2:]), int(v["value"])) == _node(v["node"])
    for v in VECTORS["pairs"]:
        assert ms.pair(_node(v["left"]), _node(v["right"])) == _node(v["node"])
    for v in VECTORS["levels"]:
        assert ms.level_node(v["level"], bytes.fromhex(v["id"][2:]), _node(v["child"])) == _node(v["node"])
    for v in VECTORS["roots"]:
        assert ms.root([_node(n) for n in v["nodes"]]) == _node(v["root"])


def test_every_reading_of_the_vector_tree_proves_into_the_enterprise_root_with_its_subtotals():
    ent = VECTORS["enterprise"]
    root = bytes.fromhex(ent["root"]["hash"][2:])
    for r in ent["readings"]:
        subtotals = ms.verify(bytes.fromhex(r["digest"][2:]), int(r["value"]), _steps(r["proof"]), root)
        assert subtotals is not None
        assert [(t.level, "0x" + t.id.hex(), str(t.sum), t.count) for t in subtotals] == [
            (t["level"], t["id"], t["sum"], t["count"]) for t in r["subtotals"]
        ]
        assert subtotals[-1].sum == int(ent["root"]["sum"])


def test_a_changed_value_or_sibling_sum_does_not_verify():
    ent = VECTORS["enterprise"]
    root = bytes.fromhex(ent["root"]["hash"][2:])
    r = ent["readings"][0]
    digest, value, steps = bytes.fromhex(r["digest"][2:]), int(r["value"]), _steps(r["proof"])
    assert ms.verify(digest, value + 1, steps, root) is None
    sibling = next(i for i, s in enumerate(steps) if s.kind != ms.STEP_LEVEL)
    forged = list(steps)
    forged[sibling] = steps[sibling]._replace(sum=steps[sibling].sum + 1)
    assert ms.verify(digest, value, forged, root) is None


def test_level_wraps_out_of_order_are_rejected():
    leaf = ms.leaf(b"\x01" * 32, 5)
    steps = [ms.Step(ms.STEP_LEVEL, 2, b"\x02" * 32, 0, 0), ms.Step(ms.STEP_LEVEL, 1, b"\x03" * 32, 0, 0)]
    node = ms.level_node(1, b"\x03" * 32, ms.level_node(2, b"\x02" * 32, leaf))
    assert ms.verify(b"\x01" * 32, 5, steps, node.hash) is None
