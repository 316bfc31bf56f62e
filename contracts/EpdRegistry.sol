// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IMembership} from "./interfaces/IMembership.sol";
import {MembershipGated} from "./base/MembershipGated.sol";
import {Errors} from "./lib/Errors.sol";
import {Roles} from "./base/Roles.sol";
import {ProductRegistry} from "./ProductRegistry.sol";

/// @title EpdRegistry
/// @notice Verified and published product carbon footprints (EPDs, cradle-to-gate, under a PCR version of
/// ProductRegistry). Lifecycle: an off-chain draft, whose commitment (`draftCommitment`) a VERIFIER of another
/// organisation attests; the owner publishes exactly the attested fields; a published EPD is later
/// superseded by a new version of the same product or withdrawn with a reason. Nothing is overwritten: a
/// new version gets a new id and the old one keeps its record with status Superseded.
/// @dev Supply-chain propagation with bounded gas: an EPD keeps a commitment to the EPD ids it cites
/// (`citationsCommitment`), not the list. When a cited EPD is superseded, withdrawn or expires, anyone may
/// `flag` each citing EPD by giving its cited list; the contract checks the list against the commitment and
/// that at least one cited EPD is no longer published or valid, marks the citing EPD flagged and emits
/// `EpdFlagged` per stale citation: that event tells the owner. Figures are integers: mgCO2e per declared
/// unit, shares per mille; figures and times at most 2^63 - 1 (`Errors.MAX_INDEXED`), what the index holds.
contract EpdRegistry is MembershipGated {
    /// @notice Where an EPD stands.
    enum Status {
        None,
        Published,
        Superseded,
        Withdrawn
    }

    /// @notice The fields of a draft, attested by a verifier and published by the owner (all in `EpdPublished`).
    struct EpdInput {
        bytes32 productId;
        bytes32 pcrId;
        uint16 pcrVersion;
        /// @dev Must be the product's declared unit.
        string declaredUnit;
        /// @dev The footprint, mgCO2e per declared unit.
        uint128 mgCO2ePerUnit;
        /// @dev The reference period `[periodStart, periodEnd)` the footprint was computed for.
        uint64 periodStart;
        uint64 periodEnd;
        /// @dev Valid in `[validFrom, validUntil)`.
        uint64 validFrom;
        uint64 validUntil;
        /// @dev Hash of the sealed EPD document.
        bytes32 documentHash;
        /// @dev The hash the off-chain computation gives over its provenance (anchors, output records,
        /// allocation shares, input footprints, factors).
        bytes32 provenanceCommitment;
        /// @dev Share of primary data, per mille.
        uint16 primaryDataSharePerMille;
        /// @dev Supplier EPDs cited as inputs (at most `MAX_CITATIONS`).
        uint64[] citedEpdIds;
        /// @dev The published EPD of the same product this one supersedes, or 0.
        uint64 supersedes;
    }

    /// @notice What an EPD keeps for later checks.
    struct Epd {
        uint64 ownerOrgId;
        uint64 validFrom;
        uint64 validUntil;
        Status status;
        /// @dev A cited EPD is no longer published or valid (set by `flag`).
        bool flagged;
        bytes32 productId;
        /// @dev `citationsCommitment(citedEpdIds)`, zero when it cites none.
        bytes32 citations;
    }

    /// @notice A verifier's attestation of a draft, consumed when the draft is published.
    struct Attestation {
        uint64 ownerOrgId;
        uint64 verifierOrgId;
    }

    /// @notice Domain tag of the draft commitment (`contracts/COMMITMENTS.md`).
    bytes32 public constant DRAFT_TAG = keccak256("CarbonLedger.EpdDraft.v1");
    /// @notice The most supplier EPDs one EPD cites (bounds `publish` and `flag`).
    uint256 public constant MAX_CITATIONS = 64;
    uint16 private constant _PER_MILLE = 1000;

    /// @notice Where PCRs and products are read.
    ProductRegistry public immutable products;
    /// @notice Number of EPDs published; ids run from 1 to `epdCount`.
    uint64 public epdCount;

    mapping(uint64 epdId => Epd) private _epds;
    mapping(bytes32 draftCommitment => Attestation) private _attestations;

    /// @dev No EPD has this id.
    error UnknownEpd(uint64 epdId);
    /// @dev The EPD is not published (superseded or withdrawn).
    error EpdNotPublished(uint64 epdId, Status epdStatus);
    /// @dev The draft was attested already (an attestation is used once).
    error AlreadyAttested(bytes32 draftCommitment, uint64 verifierOrgId);
    /// @dev No verifier attested this draft (or it was published already).
    error DraftNotAttested(bytes32 draftCommitment);
    /// @dev The draft was attested for another owner organisation.
    error AttestedForAnotherOrganisation(bytes32 draftCommitment, uint64 ownerOrgId);
    /// @dev The declared unit is not the product's.
    error DeclaredUnitMismatch(bytes32 productId, string declaredUnit);
    /// @dev The PCR version is not valid for the whole reference period.
    error PcrDoesNotCoverPeriod(bytes32 pcrId, uint16 version, uint64 validFrom, uint64 validUntil);
    /// @dev More citations than `MAX_CITATIONS`.
    error TooManyCitations(uint256 count, uint256 max);
    /// @dev A cited EPD is not valid for the whole reference period, or has expired.
    error CitedEpdNotValid(uint64 epdId, uint64 validFrom, uint64 validUntil);
    /// @dev A new version supersedes an EPD of the same product only.
    error SupersedesAnotherProduct(uint64 epdId, bytes32 productId);
    /// @dev A per-mille figure above 1000.
    error InvalidShare(uint16 perMille);
    /// @dev A provenance commitment of zero.
    error MissingProvenance();
    /// @dev The list given is not the one the EPD committed to.
    error CitationsMismatch(uint64 epdId);
    /// @dev Every cited EPD is still published and valid: nothing to flag.
    error NothingToFlag(uint64 epdId);
    /// @dev The EPD is flagged already.
    error AlreadyFlagged(uint64 epdId);

    /// @notice A verifier attested a draft of organisation `ownerOrgId`, with its statement.
    event DraftAttested(bytes32 indexed draftCommitment, uint64 indexed ownerOrgId, address indexed verifier,
        uint64 verifierOrgId, bytes32 statementHash);
    /// @notice An EPD was published from the attested draft `draftCommitment`.
    event EpdPublished(uint64 indexed epdId, bytes32 indexed productId, uint64 indexed ownerOrgId, address publisher,
        bytes32 draftCommitment, EpdInput epd);
    /// @notice `epdId` was superseded by `byEpdId` (same product).
    event EpdSuperseded(uint64 indexed epdId, uint64 indexed byEpdId, uint64 indexed ownerOrgId);
    /// @notice The owner withdrew an EPD, with a reason.
    event EpdWithdrawn(uint64 indexed epdId, uint64 indexed ownerOrgId, address by, bytes32 reasonHash);
    /// @notice `citingEpdId` (of `ownerOrgId`) cites `citedEpdId`, which is no longer published or valid.
    event EpdFlagged(uint64 indexed citingEpdId, uint64 indexed citedEpdId, uint64 indexed ownerOrgId,
        Status citedStatus, uint64 citedValidUntil, address flaggedBy);

    constructor(IMembership membership_, ProductRegistry products_) MembershipGated(membership_) {
        if (address(products_) == address(0)) revert Errors.ZeroAddress();
        products = products_;
    }

    // ------------------------------------------------------------------ verification

    /// @notice Attest a draft (a VERIFIER not of the owner organisation). An attestation is used by one publish.
    /// @param draft `draftCommitment(fields)` of the fields verified.
    /// @param ownerOrgId The organisation that will publish it.
    /// @param statementHash Hash of the sealed verification statement.
    function attest(bytes32 draft, uint64 ownerOrgId, bytes32 statementHash) external {
        uint64 verifierOrg = _orgId(_requireActiveRole(Roles.VERIFIER, msg.sender));
        if (verifierOrg == ownerOrgId) revert Errors.ConflictOfInterest(msg.sender, ownerOrgId);
        if (statementHash == bytes32(0)) revert Errors.MissingDocumentHash();
        Attestation storage a = _attestations[draft];
        if (a.verifierOrgId != 0) revert AlreadyAttested(draft, a.verifierOrgId);
        a.ownerOrgId = ownerOrgId;
        a.verifierOrgId = verifierOrg;
        emit DraftAttested(draft, ownerOrgId, msg.sender, verifierOrg, statementHash);
    }

    /// @notice The commitment a verifier attests: keccak256(abi.encode(DRAFT_TAG, draft)).
    function draftCommitment(EpdInput calldata draft) public pure returns (bytes32) {
        return keccak256(abi.encode(DRAFT_TAG, draft));
    }

    /// @notice The commitment an EPD keeps to its cited ids: keccak256 of the ids as 32-byte words, in order.
    function citationsCommitment(uint64[] calldata citedEpdIds) public pure returns (bytes32) {
        return citedEpdIds.length == 0 ? bytes32(0) : keccak256(abi.encodePacked(citedEpdIds));
    }

    /// @notice An attestation not yet used (zeros when there is none).
    function attestation(bytes32 draft) external view returns (Attestation memory) {
        return _attestations[draft];
    }

    // ------------------------------------------------------------------ publication

    /// @notice Publish an attested draft (an ENTERPRISE member of the product's owner).
    /// @dev Checks: the declared unit is the product's; the PCR version covers the reference period; the draft
    /// was attested for the owner; every cited EPD is published and valid over the reference period; a
    /// superseded EPD is a published one of the same product (it becomes Superseded here).
    /// @param epd The draft's fields.
    /// @return epdId The new EPD.
    function publish(EpdInput calldata epd) external returns (uint64 epdId) {
        (uint64 owner, bytes32 unitHash) = products.productOwner(epd.productId);
        _requireRoleInOrg(Roles.ENTERPRISE, msg.sender, owner);
        if (keccak256(bytes(epd.declaredUnit)) != unitHash) revert DeclaredUnitMismatch(epd.productId, epd.declaredUnit);
        _checkFigures(epd);
        bytes32 citations = _checkCitations(epd.citedEpdIds, epd.periodStart, epd.periodEnd);
        bytes32 draft = draftCommitment(epd);
        Attestation memory a = _attestations[draft];
        if (a.verifierOrgId == 0) revert DraftNotAttested(draft);
        if (a.ownerOrgId != owner) revert AttestedForAnotherOrganisation(draft, a.ownerOrgId);
        if (epd.supersedes != 0) _requireSupersedable(epd.supersedes, epd.productId);
        delete _attestations[draft];
        epdId = epdCount + 1;
        epdCount = epdId;
        _epds[epdId] = Epd(owner, epd.validFrom, epd.validUntil, Status.Published, false, epd.productId, citations);
        if (epd.supersedes != 0) {
            _epds[epd.supersedes].status = Status.Superseded;
            emit EpdSuperseded(epd.supersedes, epdId, owner);
        }
        emit EpdPublished(epdId, epd.productId, owner, msg.sender, draft, epd);
    }

    /// @notice Withdraw a published EPD (an ENTERPRISE member of its owner), with a reason.
    function withdraw(uint64 epdId, bytes32 reasonHash) external {
        Epd storage e = _epd(epdId);
        uint64 owner = e.ownerOrgId;
        _requireRoleInOrg(Roles.ENTERPRISE, msg.sender, owner);
        if (e.status != Status.Published) revert EpdNotPublished(epdId, e.status);
        if (reasonHash == bytes32(0)) revert Errors.MissingDocumentHash();
        e.status = Status.Withdrawn;
        emit EpdWithdrawn(epdId, owner, msg.sender, reasonHash);
    }

    // ------------------------------------------------------------------ supply-chain flags

    /// @notice Flag a published EPD one of whose cited EPDs is no longer published (superseded or withdrawn)
    /// or no longer valid (permissionless). Emits `EpdFlagged` for each such citation.
    /// @param citingEpdId The citing EPD.
    /// @param citedEpdIds Its cited ids, exactly as published.
    function flag(uint64 citingEpdId, uint64[] calldata citedEpdIds) external {
        Epd storage e = _epd(citingEpdId);
        if (e.status != Status.Published) revert EpdNotPublished(citingEpdId, e.status);
        if (e.flagged) revert AlreadyFlagged(citingEpdId);
        bytes32 committed = e.citations;
        if (committed == bytes32(0) || committed != citationsCommitment(citedEpdIds)) {
            revert CitationsMismatch(citingEpdId);
        }
        e.flagged = true;
        uint64 owner = e.ownerOrgId;
        bool stale;
        for (uint256 i; i < citedEpdIds.length; ++i) {
            uint64 id = citedEpdIds[i];
            Epd storage c = _epds[id];
            if (c.status != Status.Published || c.validUntil <= block.timestamp) {
                stale = true;
                emit EpdFlagged(citingEpdId, id, owner, c.status, c.validUntil, msg.sender);
            }
        }
        if (!stale) revert NothingToFlag(citingEpdId);
    }

    // ------------------------------------------------------------------ views

    /// @notice A published EPD's record; reverts `UnknownEpd` for any other id.
    function epd(uint64 epdId) external view returns (Epd memory) {
        return _epd(epdId);
    }

    /// @notice Whether an EPD is published and valid at `timestamp` (false for an unknown id).
    function isCurrent(uint64 epdId, uint64 timestamp) external view returns (bool) {
        Epd storage e = _epds[epdId];
        return e.status == Status.Published && e.validFrom <= timestamp && timestamp < e.validUntil;
    }

    // ------------------------------------------------------------------ internals

    function _checkFigures(EpdInput calldata epd) private view {
        if (epd.periodStart == 0 || epd.periodStart >= epd.periodEnd) {
            revert Errors.InvalidPeriod(epd.periodStart, epd.periodEnd);
        }
        if (epd.validFrom >= epd.validUntil) revert Errors.InvalidPeriod(epd.validFrom, epd.validUntil);
        Errors.requireIndexable(epd.periodEnd);
        Errors.requireIndexable(epd.validUntil);
        Errors.requireIndexable(epd.mgCO2ePerUnit);
        if (epd.primaryDataSharePerMille > _PER_MILLE) revert InvalidShare(epd.primaryDataSharePerMille);
        if (epd.documentHash == bytes32(0)) revert Errors.MissingDocumentHash();
        if (epd.provenanceCommitment == bytes32(0)) revert MissingProvenance();
        (uint64 from, uint64 until) = products.pcrValidity(epd.pcrId, epd.pcrVersion);
        if (epd.periodStart < from || epd.periodEnd > until) {
            revert PcrDoesNotCoverPeriod(epd.pcrId, epd.pcrVersion, from, until);
        }
    }

    /// @dev Every cited EPD is published and valid over `[periodStart, periodEnd)`; returns the commitment.
    function _checkCitations(uint64[] calldata cited, uint64 periodStart, uint64 periodEnd)
        private
        view
        returns (bytes32)
    {
        if (cited.length > MAX_CITATIONS) revert TooManyCitations(cited.length, MAX_CITATIONS);
        for (uint256 i; i < cited.length; ++i) {
            Epd storage c = _epd(cited[i]);
            if (c.status != Status.Published) revert EpdNotPublished(cited[i], c.status);
            // Valid over the period, and not expired already (it would be flagged at once).
            if (periodStart < c.validFrom || periodEnd > c.validUntil || c.validUntil <= block.timestamp) {
                revert CitedEpdNotValid(cited[i], c.validFrom, c.validUntil);
            }
        }
        return citationsCommitment(cited);
    }

    function _requireSupersedable(uint64 epdId, bytes32 productId) private view {
        Epd storage old = _epd(epdId);
        if (old.status != Status.Published) revert EpdNotPublished(epdId, old.status);
        if (old.productId != productId) revert SupersedesAnotherProduct(epdId, old.productId);
    }

    function _epd(uint64 epdId) private view returns (Epd storage e) {
        e = _epds[epdId];
        if (e.status == Status.None) revert UnknownEpd(epdId);
    }
}
