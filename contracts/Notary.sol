// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IMembership} from "./interfaces/IMembership.sol";
import {MembershipGated} from "./base/MembershipGated.sol";
import {Errors} from "./lib/Errors.sol";

/// @title Notary
/// @notice Proof of existence: any active member can record that a document with a given
/// hash existed at a point in time, once per hash. The chain keeps, in one slot per hash, who
/// notarized it and when (time and block); the notarizing member's organisation, the kind of
/// document and a free reference (e.g. a report or anchor id) are in the `Notarized` event of
/// that block, whose timestamp is the notarization's time.
/// @dev Frozen members may notarize: a freeze stops assets from moving, not record keeping.
contract Notary is MembershipGated {
    /// @notice What the chain keeps of a notarized document (one slot).
    /// @dev `blockNumber` locates the `Notarized` event that carries the rest of the record.
    struct Notarization {
        address notary;
        uint48 timestamp;
        uint48 blockNumber;
    }

    mapping(bytes32 documentHash => Notarization) private _records;

    /// @dev The hash was already notarized, by `notary` at `timestamp`.
    error AlreadyNotarized(bytes32 documentHash, address notary, uint64 timestamp);
    /// @dev The hash has not been notarized.
    error NotNotarized(bytes32 documentHash);

    /// @notice A member notarized a document (at the time of the event's block).
    event Notarized(bytes32 indexed documentHash, address indexed notary, uint64 orgId, bytes32 kind, bytes32 referenceId);

    constructor(IMembership membership_) MembershipGated(membership_) {}

    /// @notice Record that a document existed now. Any active member; once per hash.
    /// @param documentHash Non-zero hash of the document.
    /// @param kind What the document is (e.g. keccak256("EMISSION_REPORT")); kept in the event.
    /// @param referenceId A free reference (e.g. a report or anchor id), or zero; kept in the event.
    function notarize(bytes32 documentHash, bytes32 kind, bytes32 referenceId) external {
        uint256 p = _requireActive(msg.sender);
        if (documentHash == bytes32(0)) revert Errors.MissingDocumentHash();
        Notarization storage record = _records[documentHash];
        address notary = record.notary;
        if (notary != address(0)) revert AlreadyNotarized(documentHash, notary, record.timestamp);
        // The three fields fill the slot: written as one word, without reading the slot again.
        uint256 packed = uint256(uint160(msg.sender)) | (uint256(uint48(block.timestamp)) << 160)
            | (uint256(uint48(block.number)) << 208);
        assembly ("memory-safe") {
            sstore(record.slot, packed)
        }
        emit Notarized(documentHash, msg.sender, _orgId(p), kind, referenceId);
    }

    /// @notice Who notarized a document and when; reverts with `NotNotarized` if nobody did.
    /// The organisation, kind and reference are in the `Notarized` event of `blockNumber`.
    /// @param documentHash Hash of the document.
    function getNotarization(bytes32 documentHash) external view returns (Notarization memory) {
        Notarization memory record = _records[documentHash];
        if (record.notary == address(0)) revert NotNotarized(documentHash);
        return record;
    }

    /// @notice Whether a document hash has been notarized.
    /// @param documentHash Hash of the document.
    function isNotarized(bytes32 documentHash) external view returns (bool) {
        return _records[documentHash].notary != address(0);
    }
}
