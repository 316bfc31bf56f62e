// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IMembership} from "../interfaces/IMembership.sol";
import {Roles} from "./Roles.sol";

/// @title MembershipGated
/// @notice Shared checks for contracts that defer their permissions to Membership.
abstract contract MembershipGated {
    /// @notice The Membership registry this contract asks.
    IMembership public immutable membership;

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

    function _requireActiveRole(bytes32 role, address account) internal view {
        if (!membership.hasActiveRole(role, account)) revert MissingRole(account, role);
    }

    function _requireCanTransact(address account) internal view {
        if (!membership.canTransact(account)) revert AccountCannotTransact(account);
    }

    /// @dev Asset holders: active, unfrozen members, or an escrow agent of the suite (the market).
    function _requireCanHold(address account) internal view {
        if (!membership.canTransact(account) && !membership.isEscrowAgent(account)) {
            revert AccountCannotTransact(account);
        }
    }

    function _requireActive(address account) internal view {
        if (!membership.isActive(account)) revert InactiveMember(account);
    }
}
