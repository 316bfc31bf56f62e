// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IMembership} from "./interfaces/IMembership.sol";
import {MembershipGated} from "./base/MembershipGated.sol";
import {Errors} from "./lib/Errors.sol";
import {Roles} from "./base/Roles.sol";

/// @title ProductRegistry
/// @notice Product category rules (PCR), products and their production output: what a product carbon
/// footprint is computed under and from. The program operator (a REGULATOR) registers PCR versions; an
/// enterprise registers its products, made in a facility (and optionally a workshop) of its hierarchy, and
/// records production output per period from a sealed ERP extract. EpdRegistry reads the PCR validity and
/// a product's owner and declared unit when a footprint is published.
/// @dev Storage keeps what later checks need and a commitment to the rest: per PCR version its validity,
/// its allocation rule and `keccak256(abi.encode(pcr))` (`contracts/COMMITMENTS.md`); per product its
/// owner, its output cursor and the hash of its declared unit; per output record its commitment. Every
/// field is in the events. Quantities are integers: output in milli declared units, mass in grams (kg x
/// 1000), economic value in CNY fen, so any allocation rule finds its key in the record. Figures and times are
/// at most 2^63 - 1 (`Errors.MAX_INDEXED`), what the event index holds exactly.
contract ProductRegistry is MembershipGated {
    /// @notice How a PCR allocates a process's emissions among its co-products.
    enum Allocation {
        Mass,
        Economic,
        PhysicalOutput
    }

    /// @notice A PCR version as registered (every field is in `PcrRegistered`).
    struct PcrInput {
        /// @dev The rule's id, e.g. keccak256("PCR-STEEL-HRC").
        bytes32 pcrId;
        /// @dev Strictly increasing per id, from 1.
        uint16 version;
        string name;
        /// @dev UN CPC code of the product category.
        string cpcCode;
        /// @dev The declared (or functional) unit, e.g. "t".
        string declaredUnit;
        /// @dev "cradle-to-gate" for now.
        string systemBoundary;
        Allocation allocation;
        /// @dev Cut-off criterion, per mille of the declared unit's mass or impact.
        uint16 cutOffPerMille;
        /// @dev The required data quality, as the rule document states it.
        string dataQuality;
        /// @dev Valid in `[validFrom, validUntil)`, UTC seconds.
        uint64 validFrom;
        uint64 validUntil;
        /// @dev Hash of the sealed rule document.
        bytes32 documentHash;
    }

    /// @notice What a PCR version keeps for later checks.
    struct Pcr {
        uint64 validFrom;
        uint64 validUntil;
        Allocation allocation;
        /// @dev keccak256(abi.encode(PcrInput)).
        bytes32 commitment;
    }

    /// @notice A product as registered (every field is in `ProductRegistered`).
    struct ProductInput {
        /// @dev The enterprise's own product id (unique within the enterprise).
        string ownProductId;
        string cpcCode;
        string declaredUnit;
        /// @dev The facility label of the enterprise's hierarchy where the product is made.
        string facility;
        /// @dev The workshop label within the facility, or "" for the whole facility.
        string workshop;
    }

    /// @notice What a product keeps for later checks.
    struct Product {
        uint64 ownerOrgId;
        /// @dev End of the latest output period (0 before the first); the next starts at or after it.
        uint64 lastOutputEnd;
        uint32 outputCount;
        /// @dev keccak256(bytes(declaredUnit)): a footprint of the product is declared per this unit.
        bytes32 declaredUnitHash;
    }

    /// @notice Production output of a product for `[periodStart, periodEnd)`.
    struct Output {
        uint64 periodStart;
        uint64 periodEnd;
        /// @dev Declared units x 1000.
        uint128 quantityMilli;
        /// @dev Kilograms x 1000.
        uint128 massGrams;
        /// @dev Economic value in CNY fen.
        uint128 valueFen;
        /// @dev Hash of the sealed ERP extract the figures come from.
        bytes32 extractHash;
    }

    /// @notice The largest cut-off and share, per mille.
    uint16 public constant PER_MILLE = 1000;

    /// @notice The latest version of each PCR id (0: none).
    mapping(bytes32 pcrId => uint16 version) public latestPcrVersion;
    mapping(bytes32 pcrId => mapping(uint16 version => Pcr)) private _pcrs;
    mapping(bytes32 productId => Product) private _products;
    /// @dev keccak256(abi.encode(productId, index, Output)) of each output record, index from 1.
    mapping(bytes32 productId => mapping(uint32 index => bytes32 commitment)) private _outputs;

    /// @dev A PCR id of zero.
    error InvalidPcrId();
    /// @dev PCR versions of an id increase strictly: `version` is not above `latest`.
    error PcrVersionNotIncreasing(bytes32 pcrId, uint16 version, uint16 latest);
    /// @dev No PCR `pcrId` of version `version` is registered.
    error UnknownPcrVersion(bytes32 pcrId, uint16 version);
    /// @dev A per-mille figure above 1000.
    error InvalidPerMille(uint256 value);
    /// @dev An own product id, declared unit or facility label that is empty.
    error MissingProductField(string field);
    /// @dev The organisation already registered a product with this own id.
    error ProductExists(bytes32 productId, uint64 ownerOrgId);
    /// @dev No product is registered under `productId`.
    error UnknownProduct(bytes32 productId);
    /// @dev Output periods of a product do not overlap: `periodStart` is before the last period's end.
    error OutputPeriodOverlap(bytes32 productId, uint64 periodStart, uint64 lastOutputEnd);

    /// @notice A PCR version was registered by the program operator `registrant`.
    event PcrRegistered(bytes32 indexed pcrId, uint16 indexed version, address registrant, bytes32 commitment,
        PcrInput pcr);
    /// @notice Organisation `ownerOrgId` registered a product.
    event ProductRegistered(bytes32 indexed productId, uint64 indexed ownerOrgId, address registrant,
        ProductInput product);
    /// @notice Output record `index` (from 1) of a product was recorded.
    event OutputRecorded(bytes32 indexed productId, uint64 indexed ownerOrgId, uint32 indexed index,
        address recorder, bytes32 commitment, Output output);

    constructor(IMembership membership_) MembershipGated(membership_) {
        if (address(membership_) == address(0)) revert Errors.ZeroAddress();
    }

    // ------------------------------------------------------------------ product category rules

    /// @notice Register a PCR version (program operator: a regulator). Versions are never overwritten.
    /// @param pcr The rule: id, version above the id's latest, validity, allocation rule, document hash.
    function registerPcr(PcrInput calldata pcr) external onlyRegulator {
        if (pcr.pcrId == bytes32(0)) revert InvalidPcrId();
        uint16 latest = latestPcrVersion[pcr.pcrId];
        if (pcr.version <= latest) revert PcrVersionNotIncreasing(pcr.pcrId, pcr.version, latest);
        if (pcr.validFrom >= pcr.validUntil) revert Errors.InvalidPeriod(pcr.validFrom, pcr.validUntil);
        Errors.requireIndexable(pcr.validUntil);
        if (pcr.cutOffPerMille > PER_MILLE) revert InvalidPerMille(pcr.cutOffPerMille);
        if (pcr.documentHash == bytes32(0)) revert Errors.MissingDocumentHash();
        bytes32 commitment = pcrCommitment(pcr);
        latestPcrVersion[pcr.pcrId] = pcr.version;
        _pcrs[pcr.pcrId][pcr.version] = Pcr(pcr.validFrom, pcr.validUntil, pcr.allocation, commitment);
        emit PcrRegistered(pcr.pcrId, pcr.version, msg.sender, commitment, pcr);
    }

    /// @notice The commitment a PCR version keeps: keccak256(abi.encode(pcr)).
    function pcrCommitment(PcrInput calldata pcr) public pure returns (bytes32) {
        return keccak256(abi.encode(pcr));
    }

    /// @notice A registered PCR version; reverts `UnknownPcrVersion` for any other.
    function pcr(bytes32 pcrId, uint16 version) external view returns (Pcr memory) {
        return _pcr(pcrId, version);
    }

    /// @notice A PCR version's validity `[validFrom, validUntil)` (one slot); reverts `UnknownPcrVersion`.
    function pcrValidity(bytes32 pcrId, uint16 version) external view returns (uint64 validFrom, uint64 validUntil) {
        Pcr storage p = _pcr(pcrId, version);
        return (p.validFrom, p.validUntil);
    }

    // ------------------------------------------------------------------ products

    /// @notice The on-chain id of an organisation's product: keccak256(abi.encode(ownerOrgId, ownProductId)).
    function productIdOf(uint64 ownerOrgId, string calldata ownProductId) public pure returns (bytes32) {
        return keccak256(abi.encode(ownerOrgId, ownProductId));
    }

    /// @notice Register a product of the caller's organisation (an ENTERPRISE member).
    /// @param product Own id (unique within the organisation), CPC code, declared unit, facility, workshop.
    /// @return productId The derived id (`productIdOf`).
    function registerProduct(ProductInput calldata product) external returns (bytes32 productId) {
        uint64 orgId = _orgId(_requireActiveRole(Roles.ENTERPRISE, msg.sender));
        if (bytes(product.ownProductId).length == 0) revert MissingProductField("ownProductId");
        if (bytes(product.declaredUnit).length == 0) revert MissingProductField("declaredUnit");
        if (bytes(product.facility).length == 0) revert MissingProductField("facility");
        productId = productIdOf(orgId, product.ownProductId);
        Product storage p = _products[productId];
        if (p.ownerOrgId != 0) revert ProductExists(productId, orgId);
        p.ownerOrgId = orgId;
        p.declaredUnitHash = keccak256(bytes(product.declaredUnit));
        emit ProductRegistered(productId, orgId, msg.sender, product);
    }

    /// @notice A registered product; reverts `UnknownProduct` for any other id.
    function product(bytes32 productId) external view returns (Product memory) {
        return _product(productId);
    }

    /// @notice A product's owner and the hash of its declared unit (one slot each); reverts `UnknownProduct`.
    function productOwner(bytes32 productId) external view returns (uint64 ownerOrgId, bytes32 declaredUnitHash) {
        Product storage p = _product(productId);
        return (p.ownerOrgId, p.declaredUnitHash);
    }

    // ------------------------------------------------------------------ output

    /// @notice Record a product's output for a period (an ENTERPRISE member of the owner). Periods are
    /// recorded in order and do not overlap.
    /// @param productId The product.
    /// @param output Period, quantity (milli declared units), mass (g), value (fen) and the extract's hash.
    /// @return index The record's number within the product, from 1.
    function recordOutput(bytes32 productId, Output calldata output) external returns (uint32 index) {
        Product storage p = _product(productId);
        uint64 orgId = p.ownerOrgId;
        _requireRoleInOrg(Roles.ENTERPRISE, msg.sender, orgId);
        if (output.periodStart == 0 || output.periodStart >= output.periodEnd) {
            revert Errors.InvalidPeriod(output.periodStart, output.periodEnd);
        }
        if (output.quantityMilli == 0) revert Errors.ZeroAmount(msg.sender, uint256(productId));
        Errors.requireIndexable(output.periodEnd);
        Errors.requireIndexable(output.quantityMilli);
        Errors.requireIndexable(output.massGrams);
        Errors.requireIndexable(output.valueFen);
        if (output.extractHash == bytes32(0)) revert Errors.MissingDocumentHash();
        uint64 lastEnd = p.lastOutputEnd;
        if (output.periodStart < lastEnd) revert OutputPeriodOverlap(productId, output.periodStart, lastEnd);
        index = p.outputCount + 1;
        bytes32 commitment = keccak256(abi.encode(productId, index, output));
        p.lastOutputEnd = output.periodEnd;
        p.outputCount = index;
        _outputs[productId][index] = commitment;
        emit OutputRecorded(productId, orgId, index, msg.sender, commitment, output);
    }

    /// @notice The commitment of output record `index` of a product (zero if there is none).
    function outputCommitment(bytes32 productId, uint32 index) external view returns (bytes32) {
        return _outputs[productId][index];
    }

    // ------------------------------------------------------------------ internals

    function _pcr(bytes32 pcrId, uint16 version) private view returns (Pcr storage p) {
        p = _pcrs[pcrId][version];
        if (p.validUntil == 0) revert UnknownPcrVersion(pcrId, version);
    }

    function _product(bytes32 productId) private view returns (Product storage p) {
        p = _products[productId];
        if (p.ownerOrgId == 0) revert UnknownProduct(productId);
    }
}
