// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IMembership} from "./interfaces/IMembership.sol";
import {MembershipGated} from "./base/MembershipGated.sol";
import {Errors} from "./lib/Errors.sol";
import {Roles} from "./base/Roles.sol";
import {MerkleSum} from "./lib/MerkleSum.sol";
import {IProductionAnchors} from "./interfaces/IProductionAnchors.sol";

/// @title MeterAnchor
/// @notice The registry of metering devices and the anchored meter data of every enterprise.
/// An authorised oracle anchors, for one enterprise and one time window `[windowStart, windowEnd)`,
/// the Merkle-sum root of every reading of that window (see `contracts/COMMITMENTS.md`). The
/// contract computes the level-4 (enterprise) node itself from the facilities' root, so the
/// anchored root provably commits to the total and reading count it records. Each enterprise's
/// anchors form a chain of non-overlapping windows per *measure*: emissions (measure 0, sums in
/// mgCO2e) and electricity produced by generation meters (measure 1, sums in Wh). Any reading can
/// then be proved into its anchor, with the device, workshop, facility and enterprise subtotals on
/// its path. Production anchors also keep their enterprise, window and Wh for other contracts
/// (`IProductionAnchors`).
/// @dev Freezing a member does not affect device management or anchoring: a freeze stops
/// assets from moving, not the measurement of emissions.
contract MeterAnchor is MembershipGated, IProductionAnchors {
    /// @notice Measure of an anchor whose sums are emissions in mgCO2e.
    uint8 public constant MEASURE_EMISSIONS = 0;
    /// @notice Measure of an anchor whose sums are electricity produced in Wh (generation meters).
    uint8 public constant MEASURE_PRODUCTION = 1;

    /// @notice A metering device, bound to an enterprise, a facility and a workshop.
    struct Device {
        uint64 enterpriseOrgId;
        bytes32 facilityId;
        bytes32 workshopId;
        bytes32 publicKeyHash;
        bool active;
    }

    /// @notice One anchored window of an enterprise's meter data, as `getAnchor` returns it.
    struct Anchor {
        uint64 enterpriseOrgId;
        uint64 windowStart;
        uint64 windowEnd;
        bytes32 root;
        bytes32 factorSetId;
        uint128 totalMg;
        uint64 readingCount;
        uint256 previousAnchorId;
        address oracle;
        uint64 anchoredAt;
        uint8 measure;
    }

    /// @dev How an anchor is stored: five slots, in the order (org, window, time), root, factor
    /// set, (total, count, previous), oracle. No window index: the chain of anchors answers
    /// `anchorIdOf` and refuses duplicate windows.
    struct StoredAnchor {
        uint64 enterpriseOrgId;
        uint64 windowStart;
        uint64 windowEnd;
        uint64 anchoredAt;
        bytes32 root;
        bytes32 factorSetId;
        uint128 totalMg;
        uint64 readingCount;
        uint64 previousAnchorId;
        address oracle;
        uint8 measure;
    }

    /// @dev A production anchor's figures, in one slot, for `productionOf`.
    struct Production {
        uint64 enterpriseOrgId;
        uint64 windowStart;
        uint64 windowEnd;
        uint64 wh;
    }

    mapping(bytes32 deviceId => Device) private _devices;
    mapping(address oracle => mapping(uint64 enterpriseOrgId => bool)) private _oracleAuthorised;
    mapping(uint256 anchorId => StoredAnchor) private _anchors;
    mapping(uint64 enterpriseOrgId => mapping(uint8 measure => uint256 anchorId)) private _latestAnchor;
    mapping(uint256 anchorId => Production) private _production;
    uint256 private _anchorCount;

    /// @dev A device id of zero was given.
    error InvalidDeviceId();
    /// @dev A public key hash of zero was given.
    error InvalidPublicKeyHash();
    /// @dev No device is registered under `deviceId`.
    error UnknownDevice(bytes32 deviceId);
    /// @dev A device is already registered under `deviceId`.
    error DeviceAlreadyRegistered(bytes32 deviceId, uint64 enterpriseOrgId);
    /// @dev The new key equals the device's current key.
    error DeviceKeyUnchanged(bytes32 deviceId);
    /// @dev `account` is an enterprise member, but of another organisation than `orgId`.
    error NotOrganisationMember(address account, uint64 orgId);
    /// @dev `oracle` is not authorised to anchor data for `enterpriseOrgId`.
    error OracleNotAuthorised(address oracle, uint64 enterpriseOrgId);
    /// @dev A window must end after it starts.
    error WindowNotClosed(uint64 windowEnd, uint64 blockTime);
    error InvalidWindow(uint64 windowStart, uint64 windowEnd);
    /// @dev An anchor commits to at least one reading.
    error EmptyAnchor();
    /// @dev The enterprise already has an anchor for exactly this window.
    error DuplicateWindow(uint64 enterpriseOrgId, uint64 windowStart, uint64 windowEnd, uint256 existingAnchorId);
    /// @dev The window starts before the end of the enterprise's latest anchor.
    error WindowOverlap(uint64 enterpriseOrgId, uint64 windowStart, uint256 latestAnchorId, uint64 latestWindowEnd);
    /// @dev No anchor has this id.
    error UnknownAnchor(uint256 anchorId);
    /// @dev The measure is neither emissions (0) nor production (1).
    error UnknownMeasure(uint8 measure);
    /// @dev A production anchor's total exceeds the uint64 Wh that `productionOf` reports.
    error ProductionOutOfRange(uint128 totalWh);
    /// @dev No anchor has this id, or it is an emissions anchor.
    error NotProductionAnchor(uint256 anchorId);

    /// @notice A device was registered, active, by `registeredBy`.
    event DeviceRegistered(
        bytes32 indexed deviceId,
        uint64 indexed enterpriseOrgId,
        bytes32 facilityId,
        bytes32 workshopId,
        bytes32 publicKeyHash,
        address registeredBy
    );
    /// @notice A device was activated or deactivated by `setBy`.
    event DeviceActiveSet(bytes32 indexed deviceId, uint64 indexed enterpriseOrgId, bool active, address setBy);
    /// @notice A device's public key hash was replaced by `rotatedBy`.
    event DeviceKeyRotated(
        bytes32 indexed deviceId, uint64 indexed enterpriseOrgId, bytes32 previousKeyHash, bytes32 newKeyHash, address rotatedBy
    );
    /// @notice A regulator authorised an oracle for an enterprise, or withdrew the authorisation.
    event OracleAuthorisationSet(address indexed oracle, uint64 indexed enterpriseOrgId, bool authorised, address setBy);
    /// @notice An oracle anchored an enterprise's meter data for `[windowStart, windowEnd)`;
    /// `root` is the level-4 node over the facilities' root, `totalMg` its sum (Wh for measure 1),
    /// `previousAnchorId` the enterprise's prior anchor of the same measure.
    event Anchored(
        uint256 indexed anchorId,
        uint64 indexed enterpriseOrgId,
        uint8 measure,
        uint64 windowStart,
        uint64 windowEnd,
        bytes32 root,
        uint128 totalMg,
        uint64 readingCount,
        bytes32 factorSetId,
        uint256 previousAnchorId,
        address oracle
    );

    constructor(IMembership membership_) MembershipGated(membership_) {}

    // ------------------------------------------------------------------ devices

    /// @notice Register a metering device of an enterprise. Callable by an active ENTERPRISE
    /// member of that organisation or by a regulator. The device starts active.
    /// @param deviceId Non-zero device id: SHA-256 of the device's string id.
    /// @param enterpriseOrgId The enterprise (organisation) that owns the device.
    /// @param facilityId Id of the facility the device is installed in.
    /// @param workshopId Id of the workshop the device is installed in.
    /// @param publicKeyHash Non-zero hash of the device's signing public key.
    function registerDevice(
        bytes32 deviceId,
        uint64 enterpriseOrgId,
        bytes32 facilityId,
        bytes32 workshopId,
        bytes32 publicKeyHash
    ) external {
        _requireEnterpriseOrRegulator(enterpriseOrgId);
        if (deviceId == bytes32(0)) revert InvalidDeviceId();
        if (publicKeyHash == bytes32(0)) revert InvalidPublicKeyHash();
        if (!membership.organisationExists(enterpriseOrgId)) revert Errors.UnknownOrganisation(enterpriseOrgId);
        Device storage existing = _devices[deviceId];
        if (existing.enterpriseOrgId != 0) revert DeviceAlreadyRegistered(deviceId, existing.enterpriseOrgId);
        _devices[deviceId] = Device({
            enterpriseOrgId: enterpriseOrgId,
            facilityId: facilityId,
            workshopId: workshopId,
            publicKeyHash: publicKeyHash,
            active: true
        });
        emit DeviceRegistered(deviceId, enterpriseOrgId, facilityId, workshopId, publicKeyHash, msg.sender);
    }

    /// @notice Activate or deactivate a device (an oracle accepts readings only from active
    /// devices). Callable by an active ENTERPRISE member of the owning organisation or by a regulator.
    /// @param deviceId The device.
    /// @param active The new state.
    function setDeviceActive(bytes32 deviceId, bool active) external {
        Device storage device = _requireDevice(deviceId);
        _requireEnterpriseOrRegulator(device.enterpriseOrgId);
        device.active = active;
        emit DeviceActiveSet(deviceId, device.enterpriseOrgId, active, msg.sender);
    }

    /// @notice Replace a device's public key hash (also allowed while the device is inactive,
    /// so a compromised device can be deactivated, re-keyed and reactivated). Callable by an
    /// active ENTERPRISE member of the owning organisation or by a regulator.
    /// @param deviceId The device.
    /// @param newPublicKeyHash Non-zero hash of the new key, different from the current one.
    function rotateDeviceKey(bytes32 deviceId, bytes32 newPublicKeyHash) external {
        Device storage device = _requireDevice(deviceId);
        _requireEnterpriseOrRegulator(device.enterpriseOrgId);
        if (newPublicKeyHash == bytes32(0)) revert InvalidPublicKeyHash();
        bytes32 previous = device.publicKeyHash;
        if (newPublicKeyHash == previous) revert DeviceKeyUnchanged(deviceId);
        device.publicKeyHash = newPublicKeyHash;
        emit DeviceKeyRotated(deviceId, device.enterpriseOrgId, previous, newPublicKeyHash, msg.sender);
    }

    /// @notice A registered device; reverts with `UnknownDevice` if none.
    /// @param deviceId The device.
    function getDevice(bytes32 deviceId) external view returns (Device memory) {
        return _requireDevice(deviceId);
    }

    // ------------------------------------------------------------------ oracles

    /// @notice Authorise an oracle to anchor an enterprise's meter data, or withdraw the
    /// authorisation. Regulator only. Authorising requires the oracle to hold the ORACLE role
    /// as an active member; withdrawing does not (so a revoked oracle can be cleaned up).
    /// @param oracle The oracle account.
    /// @param enterpriseOrgId The enterprise.
    /// @param authorised Whether the oracle may anchor for the enterprise.
    function setOracleAuthorisation(address oracle, uint64 enterpriseOrgId, bool authorised)
        external
        onlyRegulator
    {
        if (authorised) {
            _requireActiveRole(Roles.ORACLE, oracle);
            if (!membership.organisationExists(enterpriseOrgId)) revert Errors.UnknownOrganisation(enterpriseOrgId);
        }
        _oracleAuthorised[oracle][enterpriseOrgId] = authorised;
        emit OracleAuthorisationSet(oracle, enterpriseOrgId, authorised, msg.sender);
    }

    /// @notice Whether the regulator has authorised `oracle` for the enterprise. Anchoring also
    /// requires the oracle to hold the ORACLE role as an active member at the time.
    /// @param oracle The oracle account.
    /// @param enterpriseOrgId The enterprise.
    function isOracleAuthorised(address oracle, uint64 enterpriseOrgId) external view returns (bool) {
        return _oracleAuthorised[oracle][enterpriseOrgId];
    }

    // ------------------------------------------------------------------ anchors

    /// @notice Anchor the meter data of one enterprise for the window `[windowStart, windowEnd)`.
    /// Only an active ORACLE authorised for the enterprise. The anchored root is the level-4 node
    /// `level(4, bytes32(uint256(enterpriseOrgId)), (facilitiesRoot, totalMg, readingCount))`.
    /// The window must start at or after the end of the enterprise's latest anchor of the same measure.
    /// @param enterpriseOrgId The enterprise.
    /// @param measure `MEASURE_EMISSIONS` or `MEASURE_PRODUCTION` (the sums are Wh of generation meters).
    /// @param windowStart Start of the window (inclusive), seconds since the epoch.
    /// @param windowEnd End of the window (exclusive), after `windowStart`.
    /// @param factorSetId Id of the emission factor set the readings were valued with.
    /// @param facilitiesRoot Hash of the Merkle-sum root over the enterprise's facility nodes.
    /// @param totalMg Sum of that root: the window's emissions in mgCO2e (production: Wh, below 2^64).
    /// @param readingCount Count of that root: the number of readings, at least one.
    /// @return anchorId The new anchor's id (ids start at 1 and are global).
    function anchor(
        uint64 enterpriseOrgId,
        uint8 measure,
        uint64 windowStart,
        uint64 windowEnd,
        bytes32 factorSetId,
        bytes32 facilitiesRoot,
        uint128 totalMg,
        uint64 readingCount
    ) external returns (uint256 anchorId) {
        _requireActiveRole(Roles.ORACLE, msg.sender);
        if (!_oracleAuthorised[msg.sender][enterpriseOrgId]) revert OracleNotAuthorised(msg.sender, enterpriseOrgId);
        if (readingCount == 0) revert EmptyAnchor();
        if (measure > MEASURE_PRODUCTION) revert UnknownMeasure(measure);
        if (measure == MEASURE_PRODUCTION && totalMg > type(uint64).max) revert ProductionOutOfRange(totalMg);
        uint256 previousAnchorId = _checkWindow(enterpriseOrgId, measure, windowStart, windowEnd);

        StoredAnchor memory a = StoredAnchor({
            enterpriseOrgId: enterpriseOrgId,
            windowStart: windowStart,
            windowEnd: windowEnd,
            anchoredAt: uint64(block.timestamp),
            root: MerkleSum.levelHash(
                MerkleSum.LEVEL_ENTERPRISE, bytes32(uint256(enterpriseOrgId)), facilitiesRoot, totalMg, readingCount
            ),
            factorSetId: factorSetId,
            totalMg: totalMg,
            readingCount: readingCount,
            previousAnchorId: uint64(previousAnchorId),
            oracle: msg.sender,
            measure: measure
        });
        anchorId = ++_anchorCount;
        _anchors[anchorId] = a;
        _latestAnchor[enterpriseOrgId][measure] = anchorId;
        if (measure == MEASURE_PRODUCTION) {
            _production[anchorId] = Production(enterpriseOrgId, windowStart, windowEnd, uint64(totalMg));
        }
        _emitAnchored(anchorId, a);
    }

    /// @notice An anchor; reverts with `UnknownAnchor` if none.
    /// @param anchorId The anchor.
    function getAnchor(uint256 anchorId) external view returns (Anchor memory) {
        StoredAnchor storage a = _requireAnchor(anchorId);
        return Anchor({
            enterpriseOrgId: a.enterpriseOrgId,
            windowStart: a.windowStart,
            windowEnd: a.windowEnd,
            root: a.root,
            factorSetId: a.factorSetId,
            totalMg: a.totalMg,
            readingCount: a.readingCount,
            previousAnchorId: a.previousAnchorId,
            oracle: a.oracle,
            anchoredAt: a.anchoredAt,
            measure: a.measure
        });
    }

    /// @notice The id of the enterprise's anchor of this measure for exactly this window, 0 if none.
    /// @param enterpriseOrgId The enterprise.
    /// @param measure The measure.
    /// @param windowStart Start of the window.
    /// @param windowEnd End of the window.
    function anchorIdOf(uint64 enterpriseOrgId, uint8 measure, uint64 windowStart, uint64 windowEnd)
        external
        view
        returns (uint256)
    {
        return _findWindow(_latestAnchor[enterpriseOrgId][measure], windowStart, windowEnd);
    }

    /// @notice The enterprise's latest anchor of this measure (the head of its chain), 0 if none.
    /// @param enterpriseOrgId The enterprise.
    /// @param measure The measure.
    function latestAnchorId(uint64 enterpriseOrgId, uint8 measure) external view returns (uint256) {
        return _latestAnchor[enterpriseOrgId][measure];
    }

    /// @inheritdoc IProductionAnchors
    function productionOf(uint256 anchorId)
        external
        view
        returns (uint64 enterpriseOrgId, uint64 windowStart, uint64 windowEnd, uint64 wh)
    {
        Production storage p = _production[anchorId];
        if (p.enterpriseOrgId == 0) revert NotProductionAnchor(anchorId);
        return (p.enterpriseOrgId, p.windowStart, p.windowEnd, p.wh);
    }

    /// @notice The number of anchors of all enterprises (also the highest anchor id).
    function anchorCount() external view returns (uint256) {
        return _anchorCount;
    }

    /// @notice Check that a reading is committed in an anchor, and open the subtotals on its path.
    /// @dev Reverts with `UnknownAnchor`, or with a MerkleSum error for a malformed proof
    /// (unknown step kind, level wraps out of order, overflowing sums).
    /// @param anchorId The anchor.
    /// @param digest SHA-256 of the canonical reading record.
    /// @param value The reading's emissions in mgCO2e.
    /// @param proof Steps from the reading's leaf up to and including the level-4 wrap.
    /// @return valid True only if the proof folds to the anchor's root and its last level wrap is level 4.
    /// @return subtotals When valid, the `(level, id, sum, count)` of every level wrap on the path
    /// (device, workshop, facility, enterprise); empty when not valid.
    function verifyReading(uint256 anchorId, bytes32 digest, uint128 value, MerkleSum.Step[] calldata proof)
        external
        view
        returns (bool valid, MerkleSum.Subtotal[] memory subtotals)
    {
        bytes32 root = _requireAnchor(anchorId).root;
        (valid, subtotals) = MerkleSum.verify(digest, value, proof, root);
        valid = valid && subtotals.length > 0 && subtotals[subtotals.length - 1].level == MerkleSum.LEVEL_ENTERPRISE;
        if (!valid) subtotals = new MerkleSum.Subtotal[](0);
    }

    // ------------------------------------------------------------------ internals

    /// @dev Active regulators pass; otherwise the caller must be an active ENTERPRISE member of `orgId`.
    function _requireEnterpriseOrRegulator(uint64 orgId) private view {
        uint256 m = _permissions(msg.sender);
        if (_hasActiveRole(m, Roles.REGULATOR)) return;
        if (!_hasActiveRole(m, Roles.ENTERPRISE)) revert MissingRole(msg.sender, Roles.ENTERPRISE);
        if (_orgId(m) != orgId) revert NotOrganisationMember(msg.sender, orgId);
    }

    /// @dev Refuses an empty window, a window the enterprise has already anchored, and one that
    /// starts before the end of the enterprise's latest anchor of the same measure.
    function _checkWindow(uint64 enterpriseOrgId, uint8 measure, uint64 windowStart, uint64 windowEnd)
        private
        view
        returns (uint256 previousAnchorId)
    {
        if (windowEnd <= windowStart) revert InvalidWindow(windowStart, windowEnd);
        // Only a closed window is committed: readings of a window still open could be missing.
        if (windowEnd > block.timestamp) revert WindowNotClosed(windowEnd, uint64(block.timestamp));
        previousAnchorId = _latestAnchor[enterpriseOrgId][measure];
        if (previousAnchorId != 0) {
            uint64 previousEnd = _anchors[previousAnchorId].windowEnd;
            if (windowStart < previousEnd) {
                // Only on the way to a revert: name the anchor of the same window if there is one.
                uint256 existing = _findWindow(previousAnchorId, windowStart, windowEnd);
                if (existing != 0) revert DuplicateWindow(enterpriseOrgId, windowStart, windowEnd, existing);
                revert WindowOverlap(enterpriseOrgId, windowStart, previousAnchorId, previousEnd);
            }
        }
    }

    /// @dev Walks an enterprise's chain back from `anchorId` to the anchor of exactly this window,
    /// 0 if none. Windows of a chain do not overlap and increase, so the walk stops at the first
    /// anchor that ends at or before `windowStart`.
    function _findWindow(uint256 anchorId, uint64 windowStart, uint64 windowEnd) private view returns (uint256) {
        while (anchorId != 0) {
            StoredAnchor storage a = _anchors[anchorId];
            if (a.windowEnd <= windowStart) return 0;
            if (a.windowStart == windowStart && a.windowEnd == windowEnd) return anchorId;
            anchorId = a.previousAnchorId;
        }
        return 0;
    }

    function _emitAnchored(uint256 anchorId, StoredAnchor memory a) private {
        emit Anchored(
            anchorId,
            a.enterpriseOrgId,
            a.measure,
            a.windowStart,
            a.windowEnd,
            a.root,
            a.totalMg,
            a.readingCount,
            a.factorSetId,
            a.previousAnchorId,
            a.oracle
        );
    }

    function _requireDevice(bytes32 deviceId) private view returns (Device storage device) {
        device = _devices[deviceId];
        if (device.enterpriseOrgId == 0) revert UnknownDevice(deviceId);
    }

    function _requireAnchor(uint256 anchorId) private view returns (StoredAnchor storage a) {
        a = _anchors[anchorId];
        if (a.enterpriseOrgId == 0) revert UnknownAnchor(anchorId);
    }
}
