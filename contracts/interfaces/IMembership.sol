// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @title IMembership
/// @notice What the CarbonLedger contracts ask the Membership registry before acting.
interface IMembership {
    enum MemberStatus {
        None,
        Active,
        Suspended,
        Revoked
    }

    enum OrgKind {
        Authority,
        Park,
        Enterprise,
        VerificationBody,
        TradingFirm,
        Bank,
        Operator
    }

    /// @notice Organisation, status and freeze flag of an account (zeros for a stranger).
    function memberOf(address account) external view returns (uint64 orgId, MemberStatus status, bool frozen);

    /// @notice True if the account is an admitted member whose status is Active.
    function isActive(address account) external view returns (bool);

    /// @notice True if the account is frozen.
    function isFrozen(address account) external view returns (bool);

    /// @notice True if the account is an active member and not frozen: it may move assets.
    function canTransact(address account) external view returns (bool);

    /// @notice True if the account is active and holds `role`.
    function hasActiveRole(bytes32 role, address account) external view returns (bool);

    /// @notice True if the account is a suite contract allowed to hold assets in escrow (the market).
    function isEscrowAgent(address account) external view returns (bool);

    /// @notice The organisation id of an account (0 for a stranger).
    function orgOf(address account) external view returns (uint64);

    /// @notice True if an organisation with this id is registered.
    function organisationExists(uint64 orgId) external view returns (bool);

    /// @notice The parent of an organisation (0 for a top-level one).
    function parentOf(uint64 orgId) external view returns (uint64);
}
