// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {Hashes} from "@openzeppelin/contracts/utils/cryptography/Hashes.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {IMembership} from "./interfaces/IMembership.sol";
import {IProductionAnchors} from "./interfaces/IProductionAnchors.sol";
import {MembershipGated} from "./base/MembershipGated.sol";
import {Errors} from "./lib/Errors.sol";
import {Roles} from "./base/Roles.sol";
import {MerkleSum} from "./lib/MerkleSum.sol";

/// @title MeterAnchor
/// @notice The registry of metering devices and the anchored meter data of every enterprise.
/// An authorised oracle anchors, for one enterprise and one time window `[windowStart, windowEnd)`,
/// the Merkle-sum root of every reading of that window (see `contracts/COMMITMENTS.md`). The
/// contract computes the level-4 (enterprise) node itself from the facilities' root, so the
/// anchored root provably commits to the total and reading count it records. Each enterprise's
/// anchors form a chain of non-overlapping windows per *measure*: emissions (measure 0, sums in
/// mgCO2e), electricity produced by generation meters (measure 1, sums in Wh) and units of product
/// counted by production counters (measure 2, sums in milli declared units).
///
/// Storage keeps commitments, not copies: per anchor one slot, the hash of its record
/// (`anchorCommitment`); per enterprise and measure one packed head (latest anchor id and window, and
/// the oracle organisation that serves the enterprise). An anchor's id says whose it is:
/// `enterpriseOrgId << 32 | measureBits | sequence`, the sequence counting that enterprise's anchors
/// of that measure from 1 (`anchorIdOf`), so there is no global counter to write. The measure bits are
/// a prefix code in bits 31-30: emissions `0` (31-bit sequence), production `10`, product counts `11`
/// (30-bit sequences), so the ids of emissions and production anchors are those of one measure bit.
/// The record itself is in the `Anchored` event. An oracle may anchor the windows of many
/// enterprises in one transaction (`anchorBatch`): the batch keeps one slot, the Merkle root of
/// its windows' commitments, under the id of its first anchor. A reading is proved into its anchor
/// with the anchor's record as an argument: reading -> anchor root -> record's commitment -> (for a
/// batch) batch root. Production anchors also keep their enterprise, window and Wh for other
/// contracts (`IProductionAnchors`).
/// @dev Freezing a member does not affect device management or anchoring: a freeze stops
/// assets from moving, not the measurement of emissions.
contract MeterAnchor is MembershipGated, IProductionAnchors {
    /// @notice Measure of an anchor whose sums are emissions in mgCO2e.
    uint8 public constant MEASURE_EMISSIONS = 0;
    /// @notice Measure of an anchor whose sums are electricity produced in Wh (generation meters).
    uint8 public constant MEASURE_PRODUCTION = 1;
    /// @notice Measure of an anchor whose sums are units of product in milli declared units (production
    /// counters): a product's output committed like meter data.
    uint8 public constant MEASURE_PRODUCT_COUNT = 2;

    /// @notice A metering device, bound to an enterprise, a facility and a workshop.
    struct Device {
        uint64 enterpriseOrgId;
        bytes32 facilityId;
        bytes32 workshopId;
        bytes32 publicKeyHash;
        bool active;
    }

    /// @notice One window to anchor, as the oracle sends it (`anchor`'s arguments, for `anchorBatch`).
    struct Window {
        uint64 enterpriseOrgId;
        uint8 measure;
        uint64 windowStart;
        uint64 windowEnd;
        bytes32 factorSetId;
        bytes32 facilitiesRoot;
        uint128 total;
        uint64 readingCount;
    }

    /// @notice An anchor's record, as the `Anchored` event states it; its hash is the anchor's commitment.
    struct AnchorRecord {
        uint256 anchorId;
        uint64 enterpriseOrgId;
        uint8 measure;
        uint64 windowStart;
        uint64 windowEnd;
        bytes32 root;
        uint128 total;
        uint64 readingCount;
        bytes32 factorSetId;
        uint256 previousAnchorId;
        address oracle;
    }

    /// @notice The latest anchor of an enterprise and measure, and the oracle organisation serving the
    /// enterprise: one slot.
    struct Head {
        uint64 anchorId;
        uint64 windowStart;
        uint64 windowEnd;
        uint64 oracleOrgId;
    }

    /// @dev A production anchor's figures, in one slot, for `productionOf`.
    struct Production {
        uint64 enterpriseOrgId;
        uint64 windowStart;
        uint64 windowEnd;
        uint64 wh;
    }

    mapping(bytes32 deviceId => Device) private _devices;
    /// @dev A single anchor's commitment under its id; a batch's root under the id of its first anchor.
    mapping(uint256 anchorId => bytes32 commitment) private _commitments;
    /// @dev Keyed by `enterpriseOrgId << 8 | measure`.
    mapping(uint256 headKey => Head) private _heads;
    mapping(uint256 anchorId => Production) private _production;

    /// @notice The highest enterprise id whose meter data can be anchored: its anchor ids stay below 2^53,
    /// exact in a SQL BIGINT, a JSON number and a JavaScript number.
    uint64 public constant MAX_ENTERPRISE_ORG_ID = (1 << 21) - 1;
    /// @notice The most emissions anchors of one enterprise.
    uint64 public constant MAX_SEQUENCE = (1 << 31) - 1;
    /// @notice The most anchors of one enterprise and another measure (a bit of their id names the measure).
    uint64 public constant MAX_MEASURE_SEQUENCE = (1 << 30) - 1;

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
    /// @dev The enterprise's id is above `MAX_ENTERPRISE_ORG_ID`, too large for its anchor ids.
    error EnterpriseIdOutOfRange(uint64 enterpriseOrgId);
    /// @dev The enterprise has `MAX_SEQUENCE` anchors of the measure.
    error AnchorSequenceExhausted(uint64 enterpriseOrgId, uint8 measure);
    /// @dev A window must end after it starts.
    error WindowNotClosed(uint64 windowEnd, uint64 blockTime);
    error InvalidWindow(uint64 windowStart, uint64 windowEnd);
    /// @dev An anchor commits to at least one reading.
    error EmptyAnchor();
    /// @dev The window is exactly the enterprise's latest anchored window of that measure.
    error DuplicateWindow(uint64 enterpriseOrgId, uint64 windowStart, uint64 windowEnd, uint256 existingAnchorId);
    /// @dev The window starts before the end of the enterprise's latest anchor of that measure.
    error WindowOverlap(uint64 enterpriseOrgId, uint64 windowStart, uint256 latestAnchorId, uint64 latestWindowEnd);
    /// @dev Nothing is anchored under this id (as a single anchor or as a batch's first anchor).
    error UnknownAnchor(uint256 anchorId);
    /// @dev The measure is none of emissions (0), production (1) and product counts (2).
    error UnknownMeasure(uint8 measure);
    /// @dev A production anchor's total exceeds the uint64 Wh that `productionOf` reports.
    error ProductionOutOfRange(uint128 totalWh);
    /// @dev No anchor has this id, or it is an emissions anchor.
    error NotProductionAnchor(uint256 anchorId);
    /// @dev A batch holds at least one window.
    error EmptyBatch();

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
    /// @notice A regulator authorised an oracle for an enterprise (and with it the oracle's organisation:
    /// any of its active ORACLE members may anchor), or withdrew the authorisation.
    event OracleAuthorisationSet(address indexed oracle, uint64 indexed enterpriseOrgId, bool authorised, address setBy);
    /// @notice An oracle anchored an enterprise's meter data for `[windowStart, windowEnd)`: the anchor's
    /// record (`AnchorRecord`, whose hash the contract keeps). `root` is the level-4 node over the
    /// facilities' root, `totalMg` its sum (Wh for measure 1). The record's measure and previous anchor
    /// are its id's: 0 if bit 31 is clear, else 1 + bit 30; and `anchorId - 1` unless the id's sequence
    /// (`anchorIdOf`) is 1 (then 0).
    event Anchored(
        uint256 indexed anchorId,
        uint64 indexed enterpriseOrgId,
        uint64 windowStart,
        uint64 windowEnd,
        bytes32 root,
        uint128 totalMg,
        uint64 readingCount,
        bytes32 factorSetId,
        address oracle
    );
    /// @notice `oracle` anchored the windows of `records`, in order, `batchId` being the first one's anchor
    /// id; `batchRoot` is the Merkle root of their commitments. `records` packs each anchor's record in
    /// `RECORD_BYTES` bytes (big-endian, no padding): enterpriseOrgId u64, measure u8, windowStart u64,
    /// windowEnd u64, root b32, total u128, readingCount u64, factorSetId b32, previousAnchorId u64; each
    /// anchor's id is the next of its previous anchor's (`previousAnchorId + 1`, or `anchorIdOf(enterpriseOrgId,
    /// measure, 1)` when 0) and its oracle the event's. (Packed: one event of 121 bytes per window instead of an
    /// `Anchored` event each keeps a window within its batch budget.)
    event BatchAnchored(uint256 indexed batchId, address indexed oracle, bytes32 batchRoot, bytes records);

    /// @notice Bytes per anchor record in `BatchAnchored.records`.
    uint256 public constant RECORD_BYTES = 121;

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
    /// authorisation. Regulator only. An enterprise is served by one oracle organisation at a time:
    /// authorising an oracle makes its organisation the enterprise's (every active ORACLE member of it
    /// may anchor, so an oracle can rotate keys), replacing the one before. Authorising requires the
    /// oracle to hold the ORACLE role as an active member; withdrawing does not (so a revoked oracle can
    /// be cleaned up), and withdraws only if the oracle's organisation is the one serving.
    /// @param oracle The oracle account.
    /// @param enterpriseOrgId The enterprise.
    /// @param authorised Whether the oracle may anchor for the enterprise.
    function setOracleAuthorisation(address oracle, uint64 enterpriseOrgId, bool authorised)
        external
        onlyRegulator
    {
        uint64 oracleOrgId;
        if (authorised) {
            oracleOrgId = _orgId(_requireActiveRole(Roles.ORACLE, oracle));
            if (!membership.organisationExists(enterpriseOrgId)) revert Errors.UnknownOrganisation(enterpriseOrgId);
            if (enterpriseOrgId > MAX_ENTERPRISE_ORG_ID) revert EnterpriseIdOutOfRange(enterpriseOrgId);
        } else if (!_serves(oracle, enterpriseOrgId)) {
            emit OracleAuthorisationSet(oracle, enterpriseOrgId, false, msg.sender);
            return;
        }
        _heads[_headKey(enterpriseOrgId, MEASURE_EMISSIONS)].oracleOrgId = oracleOrgId;
        _heads[_headKey(enterpriseOrgId, MEASURE_PRODUCTION)].oracleOrgId = oracleOrgId;
        emit OracleAuthorisationSet(oracle, enterpriseOrgId, authorised, msg.sender);
    }

    /// @notice Whether `oracle`'s organisation serves the enterprise. Anchoring also requires the
    /// oracle to hold the ORACLE role as an active member at the time.
    /// @param oracle The oracle account.
    /// @param enterpriseOrgId The enterprise.
    function isOracleAuthorised(address oracle, uint64 enterpriseOrgId) external view returns (bool) {
        return _serves(oracle, enterpriseOrgId);
    }

    /// @notice The oracle organisation serving the enterprise (0 if none).
    /// @param enterpriseOrgId The enterprise.
    function oracleOrganisationOf(uint64 enterpriseOrgId) public view returns (uint64) {
        return _heads[_headKey(enterpriseOrgId, MEASURE_EMISSIONS)].oracleOrgId;
    }

    // ------------------------------------------------------------------ anchors

    /// @notice Anchor the meter data of one enterprise and measure for the window `[windowStart, windowEnd)`.
    /// Only an active ORACLE authorised for the enterprise. The anchored root is the level-4 node
    /// `level(4, bytes32(uint256(enterpriseOrgId)), (facilitiesRoot, total, readingCount))`.
    /// The window must start at or after the end of the enterprise's latest anchor of the same measure.
    /// @param enterpriseOrgId The enterprise.
    /// @param measure `MEASURE_EMISSIONS`, `MEASURE_PRODUCTION` (the sums are Wh of generation meters) or
    /// `MEASURE_PRODUCT_COUNT` (milli declared units of production counters).
    /// @param windowStart Start of the window (inclusive), seconds since the epoch.
    /// @param windowEnd End of the window (exclusive), after `windowStart`.
    /// @param factorSetId Id of the emission factor set the readings were valued with (0 for other measures).
    /// @param facilitiesRoot Hash of the Merkle-sum root over the enterprise's facility nodes.
    /// @param total Sum of that root: mgCO2e (production: Wh, below 2^64).
    /// @param readingCount Count of that root: the number of readings, at least one.
    /// @return anchorId The new anchor's id (`anchorIdOf(enterpriseOrgId, measure, sequence)`).
    function anchor(
        uint64 enterpriseOrgId,
        uint8 measure,
        uint64 windowStart,
        uint64 windowEnd,
        bytes32 factorSetId,
        bytes32 facilitiesRoot,
        uint128 total,
        uint64 readingCount
    ) external returns (uint256 anchorId) {
        uint64 oracleOrgId = _orgId(_requireActiveRole(Roles.ORACLE, msg.sender));
        Window memory w =
            Window(enterpriseOrgId, measure, windowStart, windowEnd, factorSetId, facilitiesRoot, total, readingCount);
        bytes32 commitment;
        bytes32 root;
        (anchorId, commitment, root,) = _anchorWindow(oracleOrgId, w);
        _commitments[anchorId] = commitment;
        _emitAnchored(anchorId, w, root);
    }

    /// @notice Anchor many windows (of the enterprises an oracle serves) in one transaction. Each window
    /// is checked, chained and numbered exactly as by `anchor`, in order; the batch keeps one commitment,
    /// the Merkle root (sorted pairs, `COMMITMENTS.md`) of its windows' commitments, under its first
    /// window's anchor id (the batch id).
    /// @param windows The windows, at least one; windows of one enterprise and measure in window order.
    /// @return batchId The id of the batch's first anchor.
    function anchorBatch(Window[] calldata windows) external returns (uint256 batchId) {
        uint64 oracleOrgId = _orgId(_requireActiveRole(Roles.ORACLE, msg.sender));
        uint256 n = windows.length;
        if (n == 0) revert EmptyBatch();
        bytes32[] memory layer = new bytes32[](n);
        // One extra word: each record is written with whole-word stores that spill past its end.
        bytes memory records = new bytes(n * RECORD_BYTES + 32);
        Window memory w; // one buffer, refilled for every window
        for (uint256 i = 0; i < n; ++i) {
            _loadWindow(w, windows, i);
            (uint256 anchorId, bytes32 commitment, bytes32 root, uint64 previous) = _anchorWindow(oracleOrgId, w);
            if (i == 0) batchId = anchorId;
            layer[i] = commitment;
            _packRecord(records, i, w, root, previous);
        }
        assembly ("memory-safe") {
            mstore(records, mul(n, RECORD_BYTES))
        }
        bytes32 batchRoot = _merkleRoot(layer);
        _commitments[batchId] = batchRoot;
        emit BatchAnchored(batchId, msg.sender, batchRoot, records);
    }

    /// @notice The commitment of an anchor record: `keccak256(abi.encode(record))`.
    /// @param record The anchor's record, as its `Anchored` event states it.
    function anchorCommitment(AnchorRecord calldata record) public pure returns (bytes32) {
        return keccak256(abi.encode(record));
    }

    /// @notice What is kept under an id: a single anchor's commitment, or a batch's root under the id of
    /// its first anchor; zero otherwise (another window of a batch, or no anchor).
    /// @param anchorId The id.
    function commitmentOf(uint256 anchorId) external view returns (bytes32) {
        return _commitments[anchorId];
    }

    /// @notice Whether `record` is an anchor this contract made. A single anchor: `batchId` is its own id
    /// and `batchProof` empty. A window of a batch: `batchId` is the batch's first anchor id and
    /// `batchProof` the sibling hashes from the window's commitment up to the batch root.
    /// @dev Reverts with `UnknownAnchor(batchId)` if nothing is kept under `batchId`.
    /// @param record The anchor's record.
    /// @param batchId The id its commitment (or its batch's root) is kept under.
    /// @param batchProof Merkle proof of its commitment in the batch (empty for a single anchor).
    function isAnchored(AnchorRecord calldata record, uint256 batchId, bytes32[] calldata batchProof)
        public
        view
        returns (bool)
    {
        bytes32 kept = _commitments[batchId];
        if (kept == bytes32(0)) revert UnknownAnchor(batchId);
        return MerkleProof.processProofCalldata(batchProof, anchorCommitment(record)) == kept;
    }

    /// @notice The head of the enterprise's chain of anchors of this measure: its latest anchor id and
    /// window (all 0 if none).
    /// @param enterpriseOrgId The enterprise.
    /// @param measure The measure.
    function headOf(uint64 enterpriseOrgId, uint8 measure)
        external
        view
        returns (uint64 anchorId, uint64 windowStart, uint64 windowEnd)
    {
        Head memory h = _heads[_headKey(enterpriseOrgId, measure)];
        return (h.anchorId, h.windowStart, h.windowEnd);
    }

    /// @notice The id of an enterprise's `sequence`-th anchor of a measure (from 1).
    /// @param enterpriseOrgId The enterprise.
    /// @param measure The measure.
    /// @param sequence The anchor's place in the enterprise's chain of that measure, from 1.
    function anchorIdOf(uint64 enterpriseOrgId, uint8 measure, uint64 sequence) public pure returns (uint256) {
        uint256 bits = measure == MEASURE_EMISSIONS ? 0 : (1 << 31) | (uint256(measure - 1) << 30);
        return (uint256(enterpriseOrgId) << 32) | bits | sequence;
    }

    /// @inheritdoc IProductionAnchors
    function productionOf(uint256 anchorId)
        external
        view
        returns (uint64 enterpriseOrgId, uint64 windowStart, uint64 windowEnd, uint64 wh)
    {
        Production memory p = _production[anchorId];
        if (p.enterpriseOrgId == 0) revert NotProductionAnchor(anchorId);
        return (p.enterpriseOrgId, p.windowStart, p.windowEnd, p.wh);
    }

    /// @notice Check that a reading is committed in an anchor, and open the subtotals on its path.
    /// @dev Reverts with `UnknownAnchor(batchId)`, or with a MerkleSum error for a malformed proof
    /// (unknown step kind, level wraps out of order, overflowing sums).
    /// @param record The anchor's record (its `root` is what the reading proves into).
    /// @param batchId As for `isAnchored`: the anchor's own id, or its batch's first anchor id.
    /// @param batchProof As for `isAnchored`: empty for a single anchor.
    /// @param digest SHA-256 of the canonical reading record.
    /// @param value The reading's value (mgCO2e; Wh for a production anchor).
    /// @param proof Steps from the reading's leaf up to and including the level-4 wrap.
    /// @return valid True only if the record is anchored, the proof folds to its root and its last
    /// level wrap is level 4.
    /// @return subtotals When valid, the `(level, id, sum, count)` of every level wrap on the path
    /// (device, workshop, facility, enterprise); empty when not valid.
    function verifyReading(
        AnchorRecord calldata record,
        uint256 batchId,
        bytes32[] calldata batchProof,
        bytes32 digest,
        uint128 value,
        MerkleSum.Step[] calldata proof
    ) external view returns (bool valid, MerkleSum.Subtotal[] memory subtotals) {
        if (!isAnchored(record, batchId, batchProof)) return (false, new MerkleSum.Subtotal[](0));
        (valid, subtotals) = MerkleSum.verify(digest, value, proof, record.root);
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

    /// @dev Checks one window for the caller (its organisation serves the enterprise, measure, window
    /// against the head), numbers it, moves the head and keeps a production anchor's figures; returns the
    /// anchor's id, commitment, root and previous anchor. The caller holds the ORACLE role (checked once
    /// per transaction), stores the commitment and emits the record.
    function _anchorWindow(uint64 oracleOrgId, Window memory w)
        private
        returns (uint256 anchorId, bytes32 commitment, bytes32 root, uint64 previous)
    {
        if (w.measure > MEASURE_PRODUCT_COUNT) revert UnknownMeasure(w.measure);
        Head storage head = _heads[_headKey(w.enterpriseOrgId, w.measure)];
        // Product counts keep no oracle in their head (enterprises authorised before the measure existed
        // would have none): the emissions head says who serves the enterprise.
        uint64 serving = w.measure == MEASURE_PRODUCT_COUNT ? oracleOrganisationOf(w.enterpriseOrgId) : head.oracleOrgId;
        if (serving != oracleOrgId) revert OracleNotAuthorised(msg.sender, w.enterpriseOrgId);
        if (w.readingCount == 0) revert EmptyAnchor();
        if (w.windowEnd <= w.windowStart) revert InvalidWindow(w.windowStart, w.windowEnd);
        // Only a closed window is committed: readings of a window still open could be missing.
        if (w.windowEnd > block.timestamp) revert WindowNotClosed(w.windowEnd, uint64(block.timestamp));
        previous = head.anchorId;
        uint64 start = w.windowStart;
        uint64 end = w.windowEnd;
        if (start < head.windowEnd) {
            if (start == head.windowStart && end == head.windowEnd) {
                revert DuplicateWindow(w.enterpriseOrgId, start, end, previous);
            }
            revert WindowOverlap(w.enterpriseOrgId, start, previous, head.windowEnd);
        }
        if (previous == 0) {
            anchorId = anchorIdOf(w.enterpriseOrgId, w.measure, 1);
        } else {
            uint64 limit = w.measure == MEASURE_EMISSIONS ? MAX_SEQUENCE : MAX_MEASURE_SEQUENCE;
            if (previous & limit == limit) revert AnchorSequenceExhausted(w.enterpriseOrgId, w.measure);
            anchorId = previous + 1;
        }
        (head.anchorId, head.windowStart, head.windowEnd) = (uint64(anchorId), start, end);
        if (w.measure == MEASURE_PRODUCTION) {
            if (w.total > type(uint64).max) revert ProductionOutOfRange(w.total);
            _production[anchorId] = Production(w.enterpriseOrgId, w.windowStart, w.windowEnd, uint64(w.total));
        }
        (commitment, root) = _hashWindow(anchorId, w, previous);
    }

    /// @dev The window's level-4 root, `MerkleSum.levelHash(LEVEL_ENTERPRISE, bytes32(uint256(org)),
    /// facilitiesRoot, total, readingCount)`, and its record's commitment, `anchorCommitment(record)`, both
    /// encoded in scratch memory (the same bytes as `abi.encodePacked` and `abi.encode`): a batch hashes
    /// every window, and allocating their encodings would cost more than the hashing.
    function _hashWindow(uint256 anchorId, Window memory w, uint64 previous)
        private
        view
        returns (bytes32 commitment, bytes32 root)
    {
        assembly ("memory-safe") {
            let p := mload(0x40)
            // Window fields, one word each: org, measure, start, end, factorSetId, facilitiesRoot, total, count.
            let org := mload(w)
            mstore(p, shl(240, 0x0204)) // node tag 0x02, level 4
            mstore(add(p, 2), org)
            mstore(add(p, 34), mload(add(w, 0xa0)))
            mstore(add(p, 66), or(shl(128, mload(add(w, 0xc0))), shl(64, mload(add(w, 0xe0)))))
            if iszero(staticcall(gas(), 0x02, p, 90, p, 32)) { revert(0, 0) }
            root := mload(p)
            mstore(p, anchorId)
            mstore(add(p, 0x20), org)
            mstore(add(p, 0x40), mload(add(w, 0x20)))
            mstore(add(p, 0x60), mload(add(w, 0x40)))
            mstore(add(p, 0x80), mload(add(w, 0x60)))
            mstore(add(p, 0xa0), root)
            mstore(add(p, 0xc0), mload(add(w, 0xc0)))
            mstore(add(p, 0xe0), mload(add(w, 0xe0)))
            mstore(add(p, 0x100), mload(add(w, 0x80)))
            mstore(add(p, 0x120), previous)
            mstore(add(p, 0x140), caller())
            commitment := keccak256(p, 0x160)
        }
    }

    /// @dev Copies `windows[i]` into `w` and refuses a field beyond its type (what ABI decoding would
    /// check), without allocating a new struct per window.
    function _loadWindow(Window memory w, Window[] calldata windows, uint256 i) private pure {
        assembly ("memory-safe") {
            let src := add(windows.offset, mul(i, 0x100))
            calldatacopy(w, src, 0x100)
            let m64 := 0xffffffffffffffff
            if or(
                or(or(gt(mload(w), m64), gt(mload(add(w, 0x20)), 0xff)), or(gt(mload(add(w, 0x40)), m64), gt(mload(add(w, 0x60)), m64))),
                or(gt(mload(add(w, 0xc0)), 0xffffffffffffffffffffffffffffffff), gt(mload(add(w, 0xe0)), m64))
            ) { revert(0, 0) }
        }
    }

    function _emitAnchored(uint256 anchorId, Window memory w, bytes32 root) private {
        emit Anchored(
            anchorId, w.enterpriseOrgId, w.windowStart, w.windowEnd, root, w.total, w.readingCount, w.factorSetId,
            msg.sender
        );
    }

    /// @dev Writes the `i`-th packed record of `BatchAnchored.records` (layout there). Each store writes a
    /// whole word; the next store (or the spare word at the end) overwrites what spills past a field.
    function _packRecord(bytes memory records, uint256 i, Window memory w, bytes32 root, uint64 previous)
        private
        pure
    {
        uint256 head = (uint256(w.enterpriseOrgId) << 192) | (uint256(w.measure) << 184)
            | (uint256(w.windowStart) << 120) | (uint256(w.windowEnd) << 56);
        uint256 sums = (uint256(w.total) << 128) | (uint256(w.readingCount) << 64);
        bytes32 factorSetId = w.factorSetId;
        uint256 tail = uint256(previous) << 192;
        assembly ("memory-safe") {
            let p := add(add(records, 32), mul(i, RECORD_BYTES))
            mstore(p, head)
            mstore(add(p, 25), root)
            mstore(add(p, 57), sums)
            mstore(add(p, 81), factorSetId)
            mstore(add(p, 113), tail)
        }
    }

    /// @dev The Merkle root of `layer` with sorted pairs (OpenZeppelin's `MerkleProof`): neighbours are
    /// paired left to right and an odd last node is promoted unchanged. Overwrites `layer`.
    function _merkleRoot(bytes32[] memory layer) private pure returns (bytes32) {
        uint256 n = layer.length;
        while (n > 1) {
            uint256 half = n / 2;
            for (uint256 i = 0; i < half; ++i) {
                layer[i] = Hashes.commutativeKeccak256(layer[2 * i], layer[2 * i + 1]);
            }
            if (n % 2 == 1) layer[half] = layer[n - 1];
            n = half + n % 2;
        }
        return layer[0];
    }

    /// @dev Whether `oracle`'s organisation is the one serving the enterprise.
    function _serves(address oracle, uint64 enterpriseOrgId) private view returns (bool) {
        uint64 serving = oracleOrganisationOf(enterpriseOrgId);
        return serving != 0 && serving == _orgId(_permissions(oracle));
    }

    function _headKey(uint64 enterpriseOrgId, uint8 measure) private pure returns (uint256) {
        return (uint256(enterpriseOrgId) << 8) | measure;
    }

    function _requireDevice(bytes32 deviceId) private view returns (Device storage device) {
        device = _devices[deviceId];
        if (device.enterpriseOrgId == 0) revert UnknownDevice(deviceId);
    }
}
