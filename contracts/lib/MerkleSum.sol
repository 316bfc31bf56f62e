// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @title MerkleSum
/// @notice The Merkle-sum commitment of `contracts/COMMITMENTS.md`: every node is a
/// triple `(hash, sum, count)` where `sum` is in mgCO2e and `count` the number of readings
/// below the node. Leaves are readings, pairs build the binary tree of a list of children,
/// level nodes bind a subtotal to the device, workshop, facility, enterprise or report
/// period it belongs to. Hashes are SHA-256 (a precompile) over tightly packed fields.
library MerkleSum {
    /// @notice Proof step: the sibling is on the left, `node = pair(sibling, node)`.
    uint8 internal constant STEP_LEFT = 0;
    /// @notice Proof step: the sibling is on the right, `node = pair(node, sibling)`.
    uint8 internal constant STEP_RIGHT = 1;
    /// @notice Proof step: wrap the node in a level node, `node = level(level, data, node)`.
    uint8 internal constant STEP_LEVEL = 2;

    uint8 internal constant LEVEL_DEVICE = 1;
    uint8 internal constant LEVEL_WORKSHOP = 2;
    uint8 internal constant LEVEL_FACILITY = 3;
    uint8 internal constant LEVEL_ENTERPRISE = 4;
    uint8 internal constant LEVEL_PERIOD = 5;

    /// @notice A node of the tree: its hash, the mgCO2e below it and the number of readings below it.
    struct Node {
        bytes32 hash;
        uint128 sum;
        uint64 count;
    }

    /// @notice One step of a proof from a reading up to a root (see COMMITMENTS.md, "Proofs").
    /// @dev For kinds 0 and 1, `data`, `sum` and `count` describe the sibling and `level` is
    /// ignored; for kind 2, `level` and `data` (the id) describe the wrap and `sum`, `count` are ignored.
    struct Step {
        uint8 kind;
        uint8 level;
        bytes32 data;
        uint128 sum;
        uint64 count;
    }

    /// @notice The subtotal that a level wrap on a reading's path commits to.
    struct Subtotal {
        uint8 level;
        bytes32 id;
        uint128 sum;
        uint64 count;
    }

    /// @dev Step `index` of a proof has a kind other than 0, 1 or 2.
    error UnknownStepKind(uint256 index, uint8 kind);
    /// @dev Step `index` wraps `level`, which is not above the previous wrap's `previousLevel`.
    error LevelOutOfOrder(uint256 index, uint8 level, uint8 previousLevel);
    /// @dev Combining two nodes would overflow the uint128 sum or the uint64 count.
    error SumOverflow();
    /// @dev A Merkle-sum root of an empty list was requested.
    error EmptyList();

    /// @notice The leaf of a reading: `H(0x00 || digest || value:u128)`, sum `value`, count 1.
    /// @param digest SHA-256 of the canonical reading record.
    /// @param value The reading's emissions in mgCO2e.
    function leaf(bytes32 digest, uint128 value) internal pure returns (Node memory) {
        return Node(_leafHash(digest, value), value, 1);
    }

    /// @notice The parent of two nodes: `H(0x01 || hL || sL || cL || hR || sR || cR)`, with summed sums and counts.
    /// @dev Reverts with `SumOverflow` if the sum exceeds uint128 or the count uint64.
    function pair(Node memory left, Node memory right) internal pure returns (Node memory) {
        (bytes32 h, uint128 s, uint64 c) =
            _pair(left.hash, left.sum, left.count, right.hash, right.sum, right.count);
        return Node(h, s, c);
    }

    /// @notice A level node: `H(0x02 || level:u8 || id || hC || sC || cC)`, carrying the child's sum and count.
    /// @param level 1 device, 2 workshop, 3 facility, 4 enterprise, 5 report period.
    /// @param id The device, workshop or facility id, or the enterprise's organisation id as uint256.
    function levelNode(uint8 level, bytes32 id, Node memory child) internal pure returns (Node memory) {
        return Node(levelHash(level, id, child.hash, child.sum, child.count), child.sum, child.count);
    }

    /// @notice The hash of a level node over a child given by its fields.
    function levelHash(uint8 level, bytes32 id, bytes32 childHash, uint128 childSum, uint64 childCount)
        internal
        pure
        returns (bytes32)
    {
        return sha256(abi.encodePacked(uint8(0x02), level, id, childHash, childSum, childCount));
    }

    /// @notice The binary Merkle-sum root of a non-empty list: neighbours are paired left to
    /// right and an odd last node is promoted unchanged, until one node remains.
    /// @dev Overwrites `nodes` with intermediate layers.
    function root(Node[] memory nodes) internal pure returns (Node memory) {
        uint256 n = nodes.length;
        if (n == 0) revert EmptyList();
        while (n > 1) {
            uint256 next = 0;
            for (uint256 i = 0; i + 1 < n; i += 2) {
                nodes[next++] = pair(nodes[i], nodes[i + 1]);
            }
            if (n % 2 == 1) nodes[next++] = nodes[n - 1];
            n = next;
        }
        return nodes[0];
    }

    /// @notice Apply proof steps to `start`, from the leaf up.
    /// @dev Reverts with `UnknownStepKind` for a kind other than 0, 1, 2, with `LevelOutOfOrder`
    /// when level wraps are not in strictly increasing order (level 0 is never valid), and with
    /// `SumOverflow` when a pair overflows.
    /// @return node The node the proof leads to.
    /// @return subtotals The subtotal `(level, id, sum, count)` of every level wrap, in proof order.
    function fold(Node memory start, Step[] calldata steps)
        internal
        pure
        returns (Node memory node, Subtotal[] memory subtotals)
    {
        uint256 wraps = 0;
        for (uint256 i = 0; i < steps.length; ++i) {
            if (steps[i].kind == STEP_LEVEL) ++wraps;
        }
        subtotals = new Subtotal[](wraps);

        bytes32 h = start.hash;
        uint128 s = start.sum;
        uint64 c = start.count;
        uint8 lastLevel = 0;
        uint256 w = 0;
        for (uint256 i = 0; i < steps.length; ++i) {
            Step calldata step = steps[i];
            uint8 kind = step.kind;
            if (kind == STEP_LEFT) {
                (h, s, c) = _pair(step.data, step.sum, step.count, h, s, c);
            } else if (kind == STEP_RIGHT) {
                (h, s, c) = _pair(h, s, c, step.data, step.sum, step.count);
            } else if (kind == STEP_LEVEL) {
                uint8 level = step.level;
                if (level <= lastLevel) revert LevelOutOfOrder(i, level, lastLevel);
                lastLevel = level;
                h = levelHash(level, step.data, h, s, c);
                subtotals[w++] = Subtotal(level, step.data, s, c);
            } else {
                revert UnknownStepKind(i, kind);
            }
        }
        node = Node(h, s, c);
    }

    /// @notice Check that a reading proves into `expectedRoot`.
    /// @param digest SHA-256 of the canonical reading record.
    /// @param value The reading's emissions in mgCO2e.
    /// @param steps The proof, from the leaf up.
    /// @param expectedRoot The root hash the proof must lead to.
    /// @return valid True if the folded node's hash equals `expectedRoot`.
    /// @return subtotals The subtotals of the proof's level wraps (see `fold`).
    function verify(bytes32 digest, uint128 value, Step[] calldata steps, bytes32 expectedRoot)
        internal
        pure
        returns (bool valid, Subtotal[] memory subtotals)
    {
        Node memory node;
        (node, subtotals) = fold(leaf(digest, value), steps);
        valid = node.hash == expectedRoot;
    }

    function _leafHash(bytes32 digest, uint128 value) private pure returns (bytes32) {
        return sha256(abi.encodePacked(uint8(0x00), digest, value));
    }

    function _pair(bytes32 hL, uint128 sL, uint64 cL, bytes32 hR, uint128 sR, uint64 cR)
        private
        pure
        returns (bytes32 h, uint128 s, uint64 c)
    {
        uint256 total = uint256(sL) + sR;
        uint256 count = uint256(cL) + cR;
        if (total > type(uint128).max || count > type(uint64).max) revert SumOverflow();
        h = sha256(abi.encodePacked(uint8(0x01), hL, sL, cL, hR, sR, cR));
        s = uint128(total);
        c = uint64(count);
    }
}
