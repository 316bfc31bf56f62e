// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IMembership} from "../interfaces/IMembership.sol";
import {IPermissionMirror} from "../interfaces/IPermissionMirror.sol";
import {Errors} from "../lib/Errors.sol";
import {Roles} from "./Roles.sol";

/// @title MembershipGated
/// @notice Shared checks for contracts that defer their permissions to Membership. Each contract is a
/// permission mirror: it keeps a local copy of every account's permission word, which Membership pushes
/// in the same transaction as the change (`syncPermissions`), so every check is one local slot read (a
/// call to Membership would cost a cold account and call overhead on top of the slot). Membership stays
/// the one rule table: the copy is written only by Membership or copied from it (`refreshPermissions`),
/// and an account never copied reads as zero, which every check refuses.
abstract contract MembershipGated is IPermissionMirror {
    /// @notice The Membership registry whose words this contract mirrors.
    IMembership public immutable membership;

    uint256 private constant _STATUS_ACTIVE = uint256(uint8(IMembership.MemberStatus.Active));

    /// @dev Membership's permission word of each account, as last pushed or copied.
    mapping(address account => uint256 word) private _words;

    /// @dev The caller (or account) does not hold `role` as an active member.
    error MissingRole(address account, bytes32 role);
    /// @dev The account is not an active, unfrozen member, so it cannot move assets.
    error AccountCannotTransact(address account);
    /// @dev The account is not an active member.
    error InactiveMember(address account);
    /// @dev Only Membership pushes permission words.
    error NotMembership(address caller);

    /// @notice An account's word was copied from Membership by `refreshPermissions`. (Pushes by
    /// Membership emit nothing here: Membership's own event of the same transaction states the change.)
    event PermissionsRefreshed(address indexed account, uint256 word);

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

    /// @inheritdoc IPermissionMirror
    function syncPermissions(address account, uint256 word) external {
        if (msg.sender != address(membership)) revert NotMembership(msg.sender);
        _words[account] = word;
    }

    /// @inheritdoc IPermissionMirror
    function refreshPermissions(address[] calldata accounts) external {
        for (uint256 i = 0; i < accounts.length; i++) {
            uint256 word = membership.permissionsOf(accounts[i]);
            _words[accounts[i]] = word;
            emit PermissionsRefreshed(accounts[i], word);
        }
    }

    /// @inheritdoc IPermissionMirror
    function mirroredPermissions(address account) external view returns (uint256) {
        return _words[account];
    }

    /// @dev The account's permission word (layout in `IMembership.permissionsOf`): the local copy.
    function _permissions(address account) internal view returns (uint256) {
        return _words[account];
    }

    /// @dev The position (from 1) of the first account that is not an active, unfrozen member with
    /// `role`, 0 if none (one local slot per account); `_requireRoleCanTransact` on that account names the error.
    function _firstLackingRole(address[] calldata accounts, bytes32 role) internal view returns (uint256) {
        uint256 roleBit = Roles.bit(role);
        for (uint256 i = 0; i < accounts.length; i++) {
            uint256 p = _words[accounts[i]];
            if (!_canTransact(p) || (p >> 80) & roleBit == 0) return i + 1;
        }
        return 0;
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

    /// @dev The parties of an ERC-1155 balance change: a mint's receiver may hold; a transfer's receiver,
    /// sender and operator (when not the sender) may hold. Burns are gated by the functions that make them.
    function _requireHolders(address operator, address from, address to) internal view {
        if (to == address(0)) return;
        _requireCanHold(to);
        if (from != address(0)) {
            _requireCanHold(from);
            if (operator != from) _requireCanHold(operator);
        }
    }

    /// @dev An active member with `role` in organisation `orgId` (the caller acting for its own organisation).
    function _requireRoleInOrg(bytes32 role, address account, uint64 orgId) internal view returns (uint256 p) {
        p = _requireActiveRole(role, account);
        if (_orgId(p) != orgId) revert Errors.NotOrganisationMember(account, orgId);
    }

    function _requireActive(address account) internal view returns (uint256 p) {
        p = _permissions(account);
        if (!_isActive(p)) revert InactiveMember(account);
    }
}
