"""The Merkle-sum commitment of `contracts/COMMITMENTS.md`, in Python.

Every node is `(hash, sum, count)`: the sum in mgCO2e and the number of readings
below it. Leaves are readings; pairs build the binary tree of a list of children;
level nodes label a subtotal with the device, workshop, facility, enterprise or
report it belongs to. SHA-256 throughout (hashlib: ~1M hashes/s per core).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

LEVEL_DEVICE = 1
LEVEL_WORKSHOP = 2
LEVEL_FACILITY = 3
LEVEL_ENTERPRISE = 4
LEVEL_PERIOD = 5
LEVEL_NAMES = {1: "device", 2: "workshop", 3: "facility", 4: "enterprise", 5: "period"}

STEP_LEFT = 0  # sibling on the left
STEP_RIGHT = 1  # sibling on the right
STEP_LEVEL = 2  # wrap in a level node

MAX_U128 = (1 << 128) - 1
MAX_U64 = (1 << 64) - 1

_sha256 = hashlib.sha256


# `sum` and `count` are the spec's names; as NamedTuple fields they shadow tuple.count, which is intended.
class Node(NamedTuple):
    hash: bytes
    sum: int
    count: int  # type: ignore[assignment]


class Step(NamedTuple):
    kind: int
    level: int
    data: bytes
    sum: int
    count: int  # type: ignore[assignment]

    def as_tuple(self) -> tuple[int, int, bytes, int, int]:
        """The ABI form of `MerkleSum.Step`."""
        return (self.kind, self.level, self.data, self.sum, self.count)


class Subtotal(NamedTuple):
    level: int
    id: bytes
    sum: int
    count: int  # type: ignore[assignment]


class InvalidProof(ValueError):
    """A proof is malformed (not merely for another root)."""


def leaf(digest: bytes, value: int) -> Node:
    if len(digest) != 32:
        raise ValueError("a reading digest is 32 bytes")
    if not 0 <= value <= MAX_U128:
        raise ValueError("a leaf value is a uint128 of mgCO2e")
    return Node(_sha256(b"\x00" + digest + value.to_bytes(16, "big")).digest(), value, 1)


def pair(left: Node, right: Node) -> Node:
    total, count = left.sum + right.sum, left.count + right.count
    if total > MAX_U128 or count > MAX_U64:
        raise OverflowError("sum or count out of range")
    h = _sha256(
        b"\x01"
        + left.hash
        + left.sum.to_bytes(16, "big")
        + left.count.to_bytes(8, "big")
        + right.hash
        + right.sum.to_bytes(16, "big")
        + right.count.to_bytes(8, "big")
    ).digest()
    return Node(h, total, count)


def level_node(level: int, node_id: bytes, child: Node) -> Node:
    if len(node_id) != 32:
        raise ValueError("a level id is 32 bytes")
    h = _sha256(
        b"\x02"
        + level.to_bytes(1, "big")
        + node_id
        + child.hash
        + child.sum.to_bytes(16, "big")
        + child.count.to_bytes(8, "big")
    ).digest()
    return Node(h, child.sum, child.count)


def layers(nodes: Sequence[Node]) -> list[list[Node]]:
    """Every layer of the binary Merkle-sum tree over `nodes`, bottom first; the last is the root."""
    if not nodes:
        raise ValueError("a Merkle-sum tree needs at least one node")
    out = [list(nodes)]
    current = out[0]
    while len(current) > 1:
        nxt = [pair(current[i], current[i + 1]) for i in range(0, len(current) - 1, 2)]
        if len(current) % 2:
            nxt.append(current[-1])  # odd last node promoted unchanged
        out.append(nxt)
        current = nxt
    return out


def root(nodes: Sequence[Node]) -> Node:
    return layers(nodes)[-1][0]


def path(tree_layers: Sequence[Sequence[Node]], index: int) -> list[Step]:
    """Sibling steps from node `index` of the bottom layer up to the root of `tree_layers`."""
    steps: list[Step] = []
    for layer in tree_layers[:-1]:
        if index % 2:
            sib = layer[index - 1]
            steps.append(Step(STEP_LEFT, 0, sib.hash, sib.sum, sib.count))
        elif index + 1 < len(layer):
            sib = layer[index + 1]
            steps.append(Step(STEP_RIGHT, 0, sib.hash, sib.sum, sib.count))
        index //= 2
    return steps


def fold(start: Node, steps: Sequence[Step]) -> tuple[Node, list[Subtotal]]:
    """Apply proof steps to `start`; returns the resulting node and the subtotal of each level wrap."""
    node = start
    subtotals: list[Subtotal] = []
    last_level = 0
    for step in steps:
        if step.kind == STEP_LEFT:
            node = pair(Node(step.data, step.sum, step.count), node)
        elif step.kind == STEP_RIGHT:
            node = pair(node, Node(step.data, step.sum, step.count))
        elif step.kind == STEP_LEVEL:
            if step.level <= last_level:
                raise InvalidProof("level wraps must be in strictly increasing order")
            last_level = step.level
            node = level_node(step.level, step.data, node)
            subtotals.append(Subtotal(step.level, step.data, node.sum, node.count))
        else:
            raise InvalidProof(f"unknown step kind {step.kind}")
    return node, subtotals


def verify(digest: bytes, value: int, steps: Sequence[Step], expected_root: bytes) -> list[Subtotal] | None:
    """The subtotals on the reading's path if the proof leads to `expected_root`, else None."""
    try:
        node, subtotals = fold(leaf(digest, value), steps)
    except (InvalidProof, ValueError, OverflowError):
        return None
    return subtotals if node.hash == expected_root else None


def labelled_id(text: str) -> bytes:
    """The 32-byte id of a device, workshop or facility: SHA-256 of its string id."""
    return _sha256(text.encode()).digest()


def enterprise_id(org_id: int) -> bytes:
    return org_id.to_bytes(32, "big")


@dataclass(frozen=True)
class LabelledTree:
    """A level node over a list of children, with the layers needed to prove any child."""

    level: int
    id: bytes
    layers: list[list[Node]]
    node: Node

    @classmethod
    def build(cls, level: int, node_id: bytes, children: Sequence[Node]) -> LabelledTree:
        tree_layers = layers(children)
        return cls(level, node_id, tree_layers, level_node(level, node_id, tree_layers[-1][0]))

    def steps(self, child_index: int) -> list[Step]:
        """From child `child_index` up to and including this level's wrap."""
        return [*path(self.layers, child_index), Step(STEP_LEVEL, self.level, self.id, 0, 0)]
