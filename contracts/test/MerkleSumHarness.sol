// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {MerkleSum} from "../lib/MerkleSum.sol";

/// @title MerkleSumHarness
/// @notice Test-only: exposes the MerkleSum library so tests can check it against the shared vectors.
contract MerkleSumHarness {
    /// @notice `MerkleSum.leaf`.
    function leaf(bytes32 digest, uint128 value) external pure returns (MerkleSum.Node memory) {
        return MerkleSum.leaf(digest, value);
    }

    /// @notice `MerkleSum.pair`.
    function pair(MerkleSum.Node calldata left, MerkleSum.Node calldata right)
        external
        pure
        returns (MerkleSum.Node memory)
    {
        return MerkleSum.pair(left, right);
    }

    /// @notice `MerkleSum.levelNode`.
    function levelNode(uint8 level, bytes32 id, MerkleSum.Node calldata child)
        external
        pure
        returns (MerkleSum.Node memory)
    {
        return MerkleSum.levelNode(level, id, child);
    }

    /// @notice `MerkleSum.root`.
    function root(MerkleSum.Node[] memory nodes) external pure returns (MerkleSum.Node memory) {
        return MerkleSum.root(nodes);
    }

    /// @notice `MerkleSum.fold` from the leaf of a reading.
    function fold(bytes32 digest, uint128 value, MerkleSum.Step[] calldata steps)
        external
        pure
        returns (MerkleSum.Node memory node, MerkleSum.Subtotal[] memory subtotals)
    {
        return MerkleSum.fold(MerkleSum.leaf(digest, value), steps);
    }

    /// @notice `MerkleSum.verify`.
    function verify(bytes32 digest, uint128 value, MerkleSum.Step[] calldata steps, bytes32 expectedRoot)
        external
        pure
        returns (bool valid, MerkleSum.Subtotal[] memory subtotals)
    {
        return MerkleSum.verify(digest, value, steps, expectedRoot);
    }
}
