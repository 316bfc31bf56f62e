// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IMembership} from "./interfaces/IMembership.sol";
import {MembershipGated} from "./base/MembershipGated.sol";
import {Errors} from "./lib/Errors.sol";

/// @title Notary
/// @notice Proof of existence: any active member can record that a document with a given
/// hash existed at a point in time, once per hash. The record names the notarizing member,
/// its organisation, the kind of document and a free reference (e.g. a report or anchor id).
/// @dev Frozen members may notarize: a freeze stops assets from moving, not record keeping.
contract Notary is MembershipGated {
    /// @notice The record of a notarized document.
    struct Notarization {
        address notary;
        uint64 orgId;
        bytes32 kind;
        bytes32 referenceId;
        uint64 timestamp;
        uint64 blockNumber;
    }

    mapping(bytes32 documentHash => Notarization) private _records;
    uint256 private _count;

    /// @dev The hash was already notarized, by `notary` at `timestamp`.
    error AlreadyNotarized(bytes32 documentHash, address notary, uint64 timestamp);
    /// @dev The hash has not been notarized.
    error NotNotarized(bytes32 documentHash);

    /// @notice A member notarized a document.
    event Notarized(
        bytes32 indexed documentHash,
        address indexed notary,
        uint64 indexed orgId,
        bytes32 kind,
        bytes32 referenceId,
        uint64 timestamp,
        uint64 blockNumber
    );

    constructor(IMembership membership_) MembershipGated(membership_) {}

    /// @notice Record that a document existed now. Any active member; once per hash.
    /// @param documentHash Non-zero hash of the document.
    /// @param kind What the document is (e.g. keccak256("EMISSION_REPORT")).
    /// @param referenceId A free reference (e.g. a report or anchor id), or zero.
    function notarize(bytes32 documentHash, bytes32 kind, bytes32 referenceId) external {
        _requireActive(msg.sender);
        if (documentHash == bytes32(0)) revert Errors.MissingDocumentHash();
        Notarization storage existing = _records[documentHash];
        if (existing.notary != address(0)) {
            revert AlreadyNotarized(documentHash, existing.notary, existing.timestamp);
        }
        uint64 orgId = membership.orgOf(msg.sender);
        uint64 timestamp = uint64(block.timestamp);
        uint64 blockNumber = uint64(block.number);
        _records[documentHash] = Notarization({
            notary: msg.sender,
            orgId: orgId,
            kind: kind,
            referenceId: referenceId,
            timestamp: timestamp,
            blockNumber: blockNumber
        });
        ++_count;
        emit Notarized(documentHash, msg.sender, orgId, kind, referenceId, timestamp, blockNumber);
    }

    /// @notice The record of a notarized document; reverts with `NotNotarized` if none.
    /// @param documentHash Hash of the document.
    function getNotarization(bytes32 documentHash) external view returns (Notarization memory) {
        Notarization storage record = _records[documentHash];
        if (record.notary == address(0)) revert NotNotarized(documentHash);
        return record;
    }

    /// @notice Whether a document hash has been notarized.
    /// @param documentHash Hash of the document.
    function isNotarized(bytes32 documentHash) external view returns (bool) {
        return _records[documentHash].notary != address(0);
    }

    /// @notice The number of notarized documents.
    function notarizationCount() external view returns (uint256) {
        return _count;
    }
}
