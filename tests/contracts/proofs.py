"""The shared Merkle-sum vectors of contracts/COMMITMENTS.md in the ABI forms of MerkleSum.sol."""

from __future__ import annotations

import json
from typing import Any

from ledger_core.paths import CONTRACTS_DIR
from oracles import merkle_sum as ms

VECTORS: dict[str, Any] = json.loads((CONTRACTS_DIR / "test-vectors" / "merkle_sum.json").read_text())
ENTERPRISE: dict[str, Any] = VECTORS["enterprise"]

StepTuple = tuple[int, int, bytes, int, int]
NodeTuple = tuple[bytes, int, int]


def b32(hex_text: str) -> bytes:
    return bytes.fromhex(hex_text.removeprefix("0x"))


def node(d: dict[str, Any]) -> NodeTuple:
    """A vector node as the ABI tuple of `MerkleSum.Node`."""
    return (b32(d["hash"]), int(d["sum"]), int(d["count"]))


def node_dict(d: dict[str, Any]) -> dict[str, Any]:
    """A vector node as the dict `structs.view` returns for `MerkleSum.Node`."""
    return {"hash": b32(d["hash"]), "sum": int(d["sum"]), "count": int(d["count"])}


def steps(proof: list[dict[str, Any]]) -> list[StepTuple]:
    """A vector proof as ABI tuples of `MerkleSum.Step`."""
    return [(s["kind"], s["level"], b32(s["data"]), int(s["sum"]), int(s["count"])) for s in proof]


def subtotals(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Vector subtotals as the dicts `structs.view` returns for `MerkleSum.Subtotal[]`."""
    return [{"level": t["level"], "id": b32(t["id"]), "sum": int(t["sum"]), "count": int(t["count"])} for t in items]


def as_abi(step_list: list[ms.Step]) -> list[StepTuple]:
    return [s.as_tuple() for s in step_list]


def deep_proof(depth_pairs: tuple[int, int, int, int] = (10, 4, 1, 1)) -> tuple[bytes, int, list[ms.Step], ms.Node]:
    """A reading with a synthetic path: `depth_pairs` sibling steps below each of the level
    wraps 1..4 (the default gives 16 pairs + 4 wraps = 20 steps). Returns the reading's digest,
    value, proof and the facilities' root node (the child of the level-4 wrap)."""
    digest = ms.labelled_id("deep-reading")
    value = 987_654_321
    proof: list[ms.Step] = []
    counter = 0
    ids = [ms.labelled_id(x) for x in ("deep-device", "deep-workshop", "deep-facility")] + [ms.enterprise_id(11)]
    for level, pairs in enumerate(depth_pairs, start=1):
        for i in range(pairs):
            counter += 1
            sibling = ms.labelled_id(f"sibling-{counter}")
            kind = ms.STEP_LEFT if i % 2 else ms.STEP_RIGHT
            proof.append(ms.Step(kind, 0, sibling, 1_000 * counter, counter))
        proof.append(ms.Step(ms.STEP_LEVEL, level, ids[level - 1], 0, 0))
    facilities_root, _ = ms.fold(ms.leaf(digest, value), proof[:-1])
    return digest, value, proof, facilities_root
