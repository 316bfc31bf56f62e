// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IMembership} from "../interfaces/IMembership.sol";
import {Roles} from "./Roles.sol";

/// @title MembershipGated
/// @notice Shared checks for contracts that defer their permissions to Membership. Every check
/// is one call to `Membership.permissionsOf` (one storage slot there, returned as one word) and
/// returns that word, so a caller that needs the organisation as well does not ask again.
abstract contract MembershipGated {
    /// @notice The Membership registry this contract asks.
    IMembership public immutable membership;

    uint256 private constant _STATUS_ACTIVE = uint256(uint8(IMembership.MemberStatus.Active));

    /// @dev The caller (or account) does not hold `role` as an active member.
    error MissingRole(address account, bytes32 role);
    /// @dev The account is not an active, unfrozen member, so it cannot move assets.
    error AccountCannotTransact(address account);
    /// @dev The account is not an active member.
    error InactiveMember(address account);

    constructor(IMembership membership_) {
        membership = membership_;
    }

    modifier onlyActiveRole(bytes32 role) {
        _requireActiveRole(role, msg.sender);
        _;
    }

    modifier onlyRegulator() {
        _requireActiveRole(Roles.REGULATOR, msg.sender);
        _;
    }

    /// @dev The account's permission word (layout in `IMembership.permissionsOf`).
    function _permissions(address account) internal view returns (uint256) {
        return membership.permissionsOf(account);
    }

    /// @dev The position (from 1) of the first account that is not an active, unfrozen member with
    /// `role`, 0 if none: one call for a batch; `_requireRoleCanTransact` on that account names the error.
    function _firstLackingRole(address[] calldata accounts, bytes32 role) internal view returns (uint256) {
        return membership.firstLackingRole(accounts, role);
    }

    function _orgId(uint256 p) internal pure returns (uint64) {
        return uint64(p);
    }

    function _isActive(uint256 p) internal pure returns (bool) {
        return (p >> 64) & 0xff == _STATUS_ACTIVE;
    }

    function _isFrozen(uint256 p) internal pure returns (bool) {
        return (p >> 72) & 0xff != 0;
    }

    function _isEscrowAgent(uint256 p) internal pure returns (bool) {
        return (p >> 88) & 0xff != 0;
    }

    function _hasActiveRole(uint256 p, bytes32 role) internal pure returns (bool) {
        return _isActive(p) && (p >> 80) & Roles.bit(role) != 0;
    }

    function _canTransact(uint256 p) internal pure returns (bool) {
        return _isActive(p) && !_isFrozen(p);
    }

    function _requireActiveRole(bytes32 role, address account) internal view returns (uint256 p) {
        p = _permissions(account);
        if (!_hasActiveRole(p, role)) revert MissingRole(account, role);
    }

    /// @dev An active member with `role` that is not frozen (an asset holder acting in its role).
    function _requireRoleCanTransact(bytes32 role, address account) internal view returns (uint256 p) {
        p = _requireActiveRole(role, account);
        if (_isFrozen(p)) revert AccountCannotTransact(account);
    }

    function _requireCanTransact(address account) internal view returns (uint256 p) {
        p = _permissions(account);
        if (!_canTransact(p)) revert AccountCannotTransact(account);
    }

    /// @dev Asset holders: active, unfrozen members, or an escrow agent of the suite (the market).
    function _requireCanHold(address account) internal view returns (uint256 p) {
        p = _permissions(account);
        if (!_canTransact(p) && !_isEscrowAgent(p)) revert AccountCannotTransact(account);
    }

    function _requireActive(address account) internal view returns (uint256 p) {
        p = _permissions(account);
        if (!_isActive(p)) revert InactiveMember(account);
    }
}
