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

    /// @notice Everything the suite checks about an account, as stored in one slot.
    struct Account {
        uint64 orgId;
        MemberStatus status;
        bool frozen;
        /// @dev Bitmap of the member roles (`Roles.*_BIT`).
        uint8 roles;
        bool escrowAgent;
    }

    /// @notice The account's record in one word, for one-call checks by the suite's contracts:
    /// bits 0-63 organisation id, 64-71 status, 72-79 frozen, 80-87 role bitmap, 88-95 escrow agent
    /// (the storage layout of `Account`; zero for a stranger).
    function permissionsOf(address account) external view returns (uint256);

    /// @notice The position (from 1) of the first account that is not an active, unfrozen member
    /// with `role`, or 0 if every account is: one call checks a batch (an allocation to many holders
    /// pays for each account's slot, not for a call and a returned word each).
    function firstLackingRole(address[] calldata accounts, bytes32 role) external view returns (uint256);

    /// @notice The account's record (organisation, status, freeze flag, role bitmap, escrow agent).
    function accountOf(address account) external view returns (Account memory);

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
