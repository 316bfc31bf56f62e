// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IMembership} from "./interfaces/IMembership.sol";
import {IPermissionMirror} from "./interfaces/IPermissionMirror.sol";
import {Roles} from "./base/Roles.sol";
import {Errors} from "./lib/Errors.sol";

/// @title Membership
/// @notice The permission layer of CarbonLedger. Members are addresses bound to an
/// organisation and to roles; organisations form a hierarchy (a park contains
/// enterprises). Regulators admit, suspend, reinstate and revoke members and freeze
/// or unfreeze accounts. Every other CarbonLedger contract checks this one's rules before acting:
/// from a local copy of each account's permission word (a permission mirror, registered here by a
/// regulator) to which every change of a word is pushed in the same transaction.
/// @dev Also implements the account-rules call that Hyperledger Besu (up to 25.5)
/// makes from its transaction pool, so a network can gate transactions on this registry.
contract Membership is AccessControl, IMembership {
    bytes32 public constant REGULATOR_ROLE = Roles.REGULATOR;
    bytes32 public constant VERIFIER_ROLE = Roles.VERIFIER;
    bytes32 public constant ORACLE_ROLE = Roles.ORACLE;
    bytes32 public constant ENTERPRISE_ROLE = Roles.ENTERPRISE;
    bytes32 public constant TRADER_ROLE = Roles.TRADER;
    bytes32 public constant SETTLEMENT_BANK_ROLE = Roles.SETTLEMENT_BANK;

    struct Organisation {
        uint64 parentId;
        OrgKind kind;
        bool exists;
        string name;
    }

    mapping(uint64 orgId => Organisation) private _orgs;
    /// @dev One slot per account: what every other contract checks, in one call. The role
    /// bitmap mirrors AccessControl's role sets (which stay the standard interface).
    mapping(address account => Account) private _members;
    /// @notice Contracts of the suite (and the deployer) that may send transactions
    /// on a permissioned network without being members.
    mapping(address account => bool) public systemAccount;
    /// @dev The permission mirrors (the suite's gated contracts), and each one's position in it plus one.
    address[] private _mirrors;
    mapping(address mirror => uint256 position) private _mirrorPosition;

    error OrganisationExists(uint64 orgId);
    error InvalidParent(uint64 orgId, uint64 parentId);
    error InvalidRole(bytes32 role);
    error AlreadyMember(address account);
    error NotMember(address account);
    error MemberNotActive(address account, MemberStatus status);
    error MemberNotSuspended(address account, MemberStatus status);
    error AlreadyFrozen(address account);
    error NotFrozen(address account);
    error RolesOnlyThroughMembership();
    error InvalidOrganisationId();
    error CannotActOnSelf(address account);
    error AlreadyMirror(address mirror);
    error NotMirror(address mirror);

    event OrganisationRegistered(uint64 indexed orgId, uint64 indexed parentId, OrgKind kind, string name);
    event MemberAdmitted(address indexed account, uint64 indexed orgId, bytes32[] roles);
    event MemberSuspended(address indexed account, bytes32 reasonHash);
    event MemberReinstated(address indexed account);
    event MemberRevoked(address indexed account, bytes32 reasonHash);
    event AccountFrozen(address indexed account, bytes32 reasonHash);
    event AccountUnfrozen(address indexed account);
    event SystemAccountSet(address indexed account, bool allowed);
    event EscrowAgentSet(address indexed account, bool allowed);
    event MirrorAdded(address indexed mirror);
    event MirrorRemoved(address indexed mirror);

    /// @param regulator The first regulator; it is admitted as a member of `authorityOrgId`.
    /// @param authorityOrgId Organisation id of the regulating authority.
    /// @param authorityName Human-readable name of the authority.
    constructor(address regulator, uint64 authorityOrgId, string memory authorityName) {
        if (regulator == address(0)) revert Errors.ZeroAddress();
        _setRoleAdmin(REGULATOR_ROLE, REGULATOR_ROLE);
        _setRoleAdmin(VERIFIER_ROLE, REGULATOR_ROLE);
        _setRoleAdmin(ORACLE_ROLE, REGULATOR_ROLE);
        _setRoleAdmin(ENTERPRISE_ROLE, REGULATOR_ROLE);
        _setRoleAdmin(TRADER_ROLE, REGULATOR_ROLE);
        _setRoleAdmin(SETTLEMENT_BANK_ROLE, REGULATOR_ROLE);
        _registerOrganisation(authorityOrgId, 0, OrgKind.Authority, authorityName);
        bytes32[] memory roles = new bytes32[](1);
        roles[0] = REGULATOR_ROLE;
        _admit(regulator, authorityOrgId, roles);
        systemAccount[msg.sender] = true;
        emit SystemAccountSet(msg.sender, true);
    }

    // ------------------------------------------------------------------ organisations

    /// @notice Register an organisation, optionally under a parent (e.g. an enterprise in a park).
    /// @param orgId New, non-zero organisation id.
    /// @param parentId Parent organisation id, or 0 for a top-level organisation.
    /// @param kind What the organisation is.
    /// @param name Human-readable name.
    function registerOrganisation(uint64 orgId, uint64 parentId, OrgKind kind, string calldata name)
        external
        onlyRole(REGULATOR_ROLE)
    {
        _registerOrganisation(orgId, parentId, kind, name);
    }

    /// @notice An organisation's parent, kind and name.
    /// @param orgId Organisation id.
    function organisation(uint64 orgId)
        external
        view
        returns (uint64 parentId, OrgKind kind, string memory name)
    {
        Organisation storage org = _orgs[orgId];
        if (!org.exists) revert Errors.UnknownOrganisation(orgId);
        return (org.parentId, org.kind, org.name);
    }

    /// @inheritdoc IMembership
    function organisationExists(uint64 orgId) external view returns (bool) {
        return _orgs[orgId].exists;
    }

    /// @inheritdoc IMembership
    function parentOf(uint64 orgId) external view returns (uint64) {
        if (!_orgs[orgId].exists) revert Errors.UnknownOrganisation(orgId);
        return _orgs[orgId].parentId;
    }

    // ------------------------------------------------------------------ members

    /// @notice Admit an account as an active member of an organisation with the given roles.
    /// @param account The member's address.
    /// @param orgId The organisation the member acts for.
    /// @param roles Roles to grant (any of the six member roles).
    function admit(address account, uint64 orgId, bytes32[] calldata roles) external onlyRole(REGULATOR_ROLE) {
        _admit(account, orgId, roles);
    }

    /// @notice Suspend an active member: it can no longer act until reinstated.
    /// @param account The member.
    /// @param reasonHash Hash of the decision document.
    function suspend(address account, bytes32 reasonHash) external onlyRole(REGULATOR_ROLE) {
        _requireNotSelf(account);
        Account storage m = _requireMember(account);
        if (m.status != MemberStatus.Active) revert MemberNotActive(account, m.status);
        m.status = MemberStatus.Suspended;
        emit MemberSuspended(account, reasonHash);
        _pushPermissions(account);
    }

    /// @notice Reinstate a suspended member.
    /// @param account The member.
    function reinstate(address account) external onlyRole(REGULATOR_ROLE) {
        Account storage m = _requireMember(account);
        if (m.status != MemberStatus.Suspended) revert MemberNotSuspended(account, m.status);
        m.status = MemberStatus.Active;
        emit MemberReinstated(account);
        _pushPermissions(account);
    }

    /// @notice Revoke a membership for good; all of the member's roles are removed.
    /// @param account The member.
    /// @param reasonHash Hash of the decision document.
    function revoke(address account, bytes32 reasonHash) external onlyRole(REGULATOR_ROLE) {
        _requireNotSelf(account);
        Account storage m = _requireMember(account);
        if (m.status == MemberStatus.Revoked) revert MemberNotActive(account, m.status);
        m.status = MemberStatus.Revoked;
        m.roles = 0;
        bytes32[6] memory all = _memberRoles();
        for (uint256 i = 0; i < all.length; i++) {
            _revokeRole(all[i], account);
        }
        emit MemberRevoked(account, reasonHash);
        _pushPermissions(account);
    }

    /// @notice Freeze an account (e.g. a judicial freeze): its assets cannot move.
    /// @param account The account.
    /// @param reasonHash Hash of the freeze order.
    function freeze(address account, bytes32 reasonHash) external onlyRole(REGULATOR_ROLE) {
        _requireNotSelf(account);
        Account storage m = _requireMember(account);
        if (m.frozen) revert AlreadyFrozen(account);
        m.frozen = true;
        emit AccountFrozen(account, reasonHash);
        _pushPermissions(account);
    }

    /// @notice Lift a freeze.
    /// @param account The account.
    function unfreeze(address account) external onlyRole(REGULATOR_ROLE) {
        Account storage m = _requireMember(account);
        if (!m.frozen) revert NotFrozen(account);
        m.frozen = false;
        emit AccountUnfrozen(account);
        _pushPermissions(account);
    }

    /// @notice Allow or disallow a non-member system account (a suite contract, an
    /// operator) to send transactions on a permissioned network.
    /// @param account The account.
    /// @param allowed Whether it may transact.
    function setSystemAccount(address account, bool allowed) external onlyRole(REGULATOR_ROLE) {
        if (account == address(0)) revert Errors.ZeroAddress();
        systemAccount[account] = allowed;
        emit SystemAccountSet(account, allowed);
    }

    /// @notice Allow or disallow a suite contract to hold members' assets in escrow.
    /// @param account The contract.
    /// @param allowed Whether it may hold assets.
    function setEscrowAgent(address account, bool allowed) external onlyRole(REGULATOR_ROLE) {
        if (account == address(0)) revert Errors.ZeroAddress();
        _members[account].escrowAgent = allowed;
        emit EscrowAgentSet(account, allowed);
        _pushPermissions(account);
    }

    // ------------------------------------------------------------------ mirrors

    /// @notice Register a permission mirror: from now on every change of an account's word is pushed
    /// to it in the same transaction (and a mirror that refuses the push reverts the change). Words
    /// of earlier members reach it through its `refreshPermissions`; until then it refuses them.
    /// @param mirror A contract implementing `IPermissionMirror` for this registry.
    function addMirror(address mirror) external onlyRole(REGULATOR_ROLE) {
        if (mirror == address(0)) revert Errors.ZeroAddress();
        if (_mirrorPosition[mirror] != 0) revert AlreadyMirror(mirror);
        _mirrors.push(mirror);
        _mirrorPosition[mirror] = _mirrors.length;
        emit MirrorAdded(mirror);
    }

    /// @notice Stop pushing changes to a mirror (e.g. the previous version of an upgraded contract).
    /// @param mirror A registered mirror.
    function removeMirror(address mirror) external onlyRole(REGULATOR_ROLE) {
        uint256 position = _mirrorPosition[mirror];
        if (position == 0) revert NotMirror(mirror);
        address last = _mirrors[_mirrors.length - 1];
        _mirrors[position - 1] = last;
        _mirrorPosition[last] = position;
        _mirrors.pop();
        delete _mirrorPosition[mirror];
        emit MirrorRemoved(mirror);
    }

    /// @notice The registered permission mirrors (in no particular order).
    function mirrors() external view returns (address[] memory) {
        return _mirrors;
    }

    /// @notice Whether changes are pushed to `account`.
    /// @param account A contract.
    function isMirror(address account) external view returns (bool) {
        return _mirrorPosition[account] != 0;
    }

    /// @notice Roles are granted only through `admit` and removed through `revoke`, so a
    /// role never exists without a membership.
    function grantRole(bytes32, address) public pure override {
        revert RolesOnlyThroughMembership();
    }

    /// @notice See `grantRole`.
    function revokeRole(bytes32, address) public pure override {
        revert RolesOnlyThroughMembership();
    }

    /// @notice See `grantRole`.
    function renounceRole(bytes32, address) public pure override {
        revert RolesOnlyThroughMembership();
    }

    // ------------------------------------------------------------------ views

    /// @inheritdoc IMembership
    function permissionsOf(address account) public view returns (uint256 word) {
        Account storage m = _members[account];
        // The struct fills the low 96 bits of its slot in declaration order; read it whole.
        assembly ("memory-safe") {
            word := and(sload(m.slot), 0xffffffffffffffffffffffff)
        }
    }

    /// @inheritdoc IMembership
    function firstLackingRole(address[] calldata accounts, bytes32 role) external view returns (uint256) {
        uint8 roleBit = Roles.bit(role);
        for (uint256 i = 0; i < accounts.length; i++) {
            Account storage m = _members[accounts[i]];
            if (m.status != MemberStatus.Active || m.frozen || m.roles & roleBit == 0) return i + 1;
        }
        return 0;
    }

    /// @inheritdoc IMembership
    function accountOf(address account) external view returns (Account memory) {
        return _members[account];
    }

    /// @inheritdoc IMembership
    function memberOf(address account) external view returns (uint64 orgId, MemberStatus status, bool frozen) {
        Account storage m = _members[account];
        return (m.orgId, m.status, m.frozen);
    }

    /// @inheritdoc IMembership
    function isActive(address account) public view returns (bool) {
        return _members[account].status == MemberStatus.Active;
    }

    /// @inheritdoc IMembership
    function isFrozen(address account) external view returns (bool) {
        return _members[account].frozen;
    }

    /// @inheritdoc IMembership
    function canTransact(address account) external view returns (bool) {
        Account storage m = _members[account];
        return m.status == MemberStatus.Active && !m.frozen;
    }

    /// @inheritdoc IMembership
    function hasActiveRole(bytes32 role, address account) external view returns (bool) {
        Account storage m = _members[account];
        return m.status == MemberStatus.Active && m.roles & Roles.bit(role) != 0;
    }

    /// @inheritdoc IMembership
    function isEscrowAgent(address account) external view returns (bool) {
        return _members[account].escrowAgent;
    }

    /// @inheritdoc IMembership
    function orgOf(address account) external view returns (uint64) {
        return _members[account].orgId;
    }

    /// @notice Account rules for Hyperledger Besu's transaction pool: true only for
    /// active members and allowed system accounts.
    /// @param sender The transaction's sender.
    function transactionAllowed(
        address sender,
        address, /* target */
        uint256, /* value */
        uint256, /* gasPrice */
        uint256, /* gasLimit */
        bytes calldata /* payload */
    ) external view returns (bool) {
        return systemAccount[sender] || isActive(sender);
    }

    // ------------------------------------------------------------------ internals

    /// @dev A suspended member keeps its roles (so reinstating restores them) but may not use them.
    function _checkRole(bytes32 role, address account) internal view override {
        super._checkRole(role, account);
        MemberStatus status = _members[account].status;
        if (status != MemberStatus.Active) revert MemberNotActive(account, status);
    }

    /// @dev The one place an account's new word leaves this registry: every function that changes an
    /// account's record ends here, after its event (checks-effects-interactions), so no mirror is ever stale.
    function _pushPermissions(address account) private {
        uint256 count = _mirrors.length;
        if (count == 0) return;
        uint256 word = permissionsOf(account);
        for (uint256 i = 0; i < count; i++) {
            IPermissionMirror(_mirrors[i]).syncPermissions(account, word);
        }
    }

    function _registerOrganisation(uint64 orgId, uint64 parentId, OrgKind kind, string memory name) private {
        if (orgId == 0) revert InvalidOrganisationId();
        if (_orgs[orgId].exists) revert OrganisationExists(orgId);
        if (parentId != 0 && (!_orgs[parentId].exists || parentId == orgId)) revert InvalidParent(orgId, parentId);
        _orgs[orgId] = Organisation({parentId: parentId, kind: kind, exists: true, name: name});
        emit OrganisationRegistered(orgId, parentId, kind, name);
    }

    function _admit(address account, uint64 orgId, bytes32[] memory roles) private {
        if (account == address(0)) revert Errors.ZeroAddress();
        if (!_orgs[orgId].exists) revert Errors.UnknownOrganisation(orgId);
        if (_members[account].status != MemberStatus.None) revert AlreadyMember(account);
        uint8 bits;
        for (uint256 i = 0; i < roles.length; i++) {
            uint8 b = Roles.bit(roles[i]);
            if (b == 0) revert InvalidRole(roles[i]);
            bits |= b;
            _grantRole(roles[i], account);
        }
        Account storage m = _members[account];
        m.orgId = orgId;
        m.status = MemberStatus.Active;
        m.frozen = false;
        m.roles = bits;
        emit MemberAdmitted(account, orgId, roles);
        _pushPermissions(account);
    }

    /// @dev A regulator cannot suspend, revoke or freeze itself, so the last active regulator
    /// can never lock the registry out of governance.
    function _requireNotSelf(address account) private view {
        if (account == msg.sender) revert CannotActOnSelf(account);
    }

    function _requireMember(address account) private view returns (Account storage m) {
        m = _members[account];
        if (m.status == MemberStatus.None) revert NotMember(account);
    }

    function _memberRoles() private pure returns (bytes32[6] memory) {
        return [REGULATOR_ROLE, VERIFIER_ROLE, ORACLE_ROLE, ENTERPRISE_ROLE, TRADER_ROLE, SETTLEMENT_BANK_ROLE];
    }
}
