// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @title Roles
/// @notice The member roles, identical to the constants of Membership, and their bits in the
/// role bitmap Membership keeps per member (so one call answers any role check).
library Roles {
    bytes32 internal constant REGULATOR = keccak256("REGULATOR");
    bytes32 internal constant VERIFIER = keccak256("VERIFIER");
    bytes32 internal constant ORACLE = keccak256("ORACLE");
    bytes32 internal constant ENTERPRISE = keccak256("ENTERPRISE");
    bytes32 internal constant TRADER = keccak256("TRADER");
    bytes32 internal constant SETTLEMENT_BANK = keccak256("SETTLEMENT_BANK");

    uint8 internal constant REGULATOR_BIT = 1 << 0;
    uint8 internal constant VERIFIER_BIT = 1 << 1;
    uint8 internal constant ORACLE_BIT = 1 << 2;
    uint8 internal constant ENTERPRISE_BIT = 1 << 3;
    uint8 internal constant TRADER_BIT = 1 << 4;
    uint8 internal constant SETTLEMENT_BANK_BIT = 1 << 5;

    /// @dev The bit of a member role, 0 for anything else.
    function bit(bytes32 role) internal pure returns (uint8) {
        if (role == REGULATOR) return REGULATOR_BIT;
        if (role == VERIFIER) return VERIFIER_BIT;
        if (role == ORACLE) return ORACLE_BIT;
        if (role == ENTERPRISE) return ENTERPRISE_BIT;
        if (role == TRADER) return TRADER_BIT;
        if (role == SETTLEMENT_BANK) return SETTLEMENT_BANK_BIT;
        return 0;
    }
}
