// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @title IPermissionMirror
/// @notice A contract that keeps a local copy of Membership's permission words, so its checks read one
/// local slot instead of calling Membership. Membership pushes every change to its registered mirrors in
/// the same transaction.
interface IPermissionMirror {
    /// @notice Membership's new word for `account` (layout in `IMembership.permissionsOf`). Only Membership.
    /// @param account The account whose word changed.
    /// @param word Its new permission word.
    function syncPermissions(address account, uint256 word) external;

    /// @notice Copy Membership's current word of each account (a backfill for a mirror added after the
    /// accounts were admitted). Anyone may call it: it only copies what Membership says.
    /// @param accounts The accounts to copy.
    function refreshPermissions(address[] calldata accounts) external;

    /// @notice The local copy of an account's permission word (zero until pushed or refreshed).
    /// @param account The account.
    function mirroredPermissions(address account) external view returns (uint256);
}
