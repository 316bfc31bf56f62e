// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @title Roles
/// @notice The member roles, identical to the constants of Membership.
library Roles {
    bytes32 internal constant REGULATOR = keccak256("REGULATOR");
    bytes32 internal constant VERIFIER = keccak256("VERIFIER");
    bytes32 internal constant ORACLE = keccak256("ORACLE");
    bytes32 internal constant ENTERPRISE = keccak256("ENTERPRISE");
    bytes32 internal constant TRADER = keccak256("TRADER");
    bytes32 internal constant SETTLEMENT_BANK = keccak256("SETTLEMENT_BANK");
}
