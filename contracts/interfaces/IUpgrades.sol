// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @title IUpgrades
/// @notice What a versioned contract asks the upgrade registry: which contract two regulators
/// approved to take over from it.
interface IUpgrades {
    /// @notice The approved successor of `current` (zero while none is approved).
    /// @param current A deployed contract of the suite.
    function approvedSuccessor(address current) external view returns (address);
}
