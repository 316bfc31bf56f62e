// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IMembership} from "./interfaces/IMembership.sol";
import {IUpgrades} from "./interfaces/IUpgrades.sol";
import {MembershipGated} from "./base/MembershipGated.sol";
import {Errors} from "./lib/Errors.sol";

/// @title Upgrades
/// @notice Versioned deployments under two regulators: one regulator proposes that a new
/// deployment (`next`, version `version`) replace a contract of the suite (`current`); a second,
/// different regulator approves. Only an approved successor may seal the old contract and move
/// its state (each contract checks `approvedSuccessor`), so no single regulator can replace a
/// contract on its own.
/// @dev A later approval for the same `current` replaces an earlier one that was never carried
/// out; once the old contract is sealed, its successor is fixed there.
contract Upgrades is MembershipGated, IUpgrades {
    /// @notice A proposal, as `proposal` returns it.
    struct Proposal {
        address current;
        address next;
        address proposer;
        address approver;
        uint32 version;
        string name;
    }

    /// @notice Number of proposals; ids run from 1 to `proposalCount`.
    uint256 public proposalCount;

    mapping(uint256 id => Proposal) private _proposals;
    mapping(address current => address next) private _successors;

    /// @dev No proposal has this id.
    error UnknownProposal(uint256 id);
    /// @dev The proposal was already approved.
    error AlreadyApproved(uint256 id, address approver);
    /// @dev The regulator that proposed an upgrade cannot approve it too.
    error SelfApproval(uint256 id, address regulator);
    /// @dev An upgrade names two distinct deployed contracts and a version after the first.
    error InvalidUpgrade(address current, address next, uint32 version);

    /// @notice A regulator proposed that `next` (contract `name`, version `version`) replace `current`.
    event UpgradeProposed(
        uint256 indexed id, address indexed current, address indexed next, uint32 version, string name, address proposer
    );
    /// @notice A second regulator approved proposal `id`: `next` may now take over from `current`.
    event UpgradeApproved(
        uint256 indexed id, address indexed current, address indexed next, uint32 version, address approver
    );

    constructor(IMembership membership_) MembershipGated(membership_) {}

    /// @notice Propose that `next` replace `current` as version `version` of contract `name`.
    /// @param name The contract's name in the suite (e.g. "CarbonMarket").
    /// @param current The deployment in use.
    /// @param next The new deployment.
    /// @param version The new deployment's version (2 or more).
    /// @return id The proposal.
    function propose(string calldata name, address current, address next, uint32 version)
        external
        onlyRegulator
        returns (uint256 id)
    {
        if (current == address(0) || next == address(0)) revert Errors.ZeroAddress();
        if (current == next || version < 2 || next.code.length == 0) revert InvalidUpgrade(current, next, version);
        id = ++proposalCount;
        _proposals[id] = Proposal(current, next, msg.sender, address(0), version, name);
        emit UpgradeProposed(id, current, next, version, name, msg.sender);
    }

    /// @notice Approve proposal `id`; the caller must be a regulator other than its proposer.
    /// @param id The proposal.
    function approve(uint256 id) external onlyRegulator {
        Proposal storage p = _proposal(id);
        if (p.approver != address(0)) revert AlreadyApproved(id, p.approver);
        if (p.proposer == msg.sender) revert SelfApproval(id, msg.sender);
        p.approver = msg.sender;
        _successors[p.current] = p.next;
        emit UpgradeApproved(id, p.current, p.next, p.version, msg.sender);
    }

    /// @inheritdoc IUpgrades
    function approvedSuccessor(address current) external view returns (address) {
        return _successors[current];
    }

    /// @notice A proposal: the contracts, who proposed and approved it, the version and the name.
    /// @param id The proposal.
    function proposal(uint256 id) external view returns (Proposal memory) {
        return _proposal(id);
    }

    function _proposal(uint256 id) private view returns (Proposal storage p) {
        p = _proposals[id];
        if (p.current == address(0)) revert UnknownProposal(id);
    }
}
