// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {ERC1155} from "@openzeppelin/contracts/token/ERC1155/ERC1155.sol";
import {IMembership} from "./interfaces/IMembership.sol";
import {IComplianceLedger} from "./interfaces/IComplianceLedger.sol";
import {IEscrowCancellable} from "./interfaces/IEscrowCancellable.sol";
import {MembershipGated} from "./base/MembershipGated.sol";
import {Errors} from "./lib/Errors.sol";
import {Roles} from "./base/Roles.sol";

/// @title CreditRegistry
/// @notice Offset credits (CCER, Verra VCUs and the like) as ERC-1155 tokens, one token id
/// per issuance batch, 1 unit = 1 tCO2e. Regulators register emission-reduction projects;
/// a verifier records its statement for a monitoring period; a regulator then issues one
/// batch for that period to the project owner, with a contiguous serial range. Credits move
/// only between active, unfrozen members and the market escrow. They leave circulation by
/// retirement (voluntary, with a certificate record), cancellation (regulator, invalidated
/// units) or surrender towards a compliance obligation; each burns the units and records
/// the serial sub-range consumed.
/// @dev Serial numbers are unique across the registry by a single O(1) rule: a batch's range
/// must start above the end of the last range issued (`lastSerialEnd`), so ranges are issued
/// in increasing order and can never overlap; serials therefore start at 1. Within a batch,
/// serials are consumed first-in first-out from a per-batch cursor shared by retirement,
/// cancellation and surrender. Monitoring periods of a project are issued in increasing order
/// by the same kind of rule (`periodStart` above the project's last issued `periodEnd`, bounds
/// inclusive), which refuses duplicate and overlapping issuance for a project.
/// Storage keeps what the registry checks itself: a batch is its project, then its serial range,
/// cursor, vintage and period in one slot (serials and times fit in 48 bits), then its retired and
/// cancelled totals (zero until used); the verifier and statement are the period's verification
/// record, not a copy, and the supply of a batch is its serials not yet consumed (every burn
/// consumes serials), so no supply counter is kept.
contract CreditRegistry is ERC1155, MembershipGated, IEscrowCancellable {
    enum ProjectStatus {
        None,
        Active,
        Suspended
    }

    struct Project {
        address owner;
        ProjectStatus status;
        uint64 lastPeriodEnd;
        bytes32 documentHash;
        string methodology;
        string location;
    }

    struct Verification {
        address verifier;
        bool issued;
        uint64 submittedAt;
        uint256 verifiedTonnes;
        bytes32 statementHash;
    }

    /// @notice A batch as the `batch` view returns it (assembled from `BatchState` and the
    /// period's verification record).
    struct Batch {
        bytes32 projectId;
        uint16 vintage;
        uint64 periodStart;
        uint64 periodEnd;
        address verifier;
        bytes32 statementHash;
        uint256 amount;
        uint256 serialStart;
        uint256 serialEnd;
        uint256 nextSerial;
        uint256 retired;
        uint256 cancelled;
        uint256 surrendered;
    }

    /// @dev What the registry keeps of a batch: three slots, the last one written only once units
    /// leave circulation. `surrendered` is what the cursor has consumed beyond the retired and
    /// cancelled units; the amount is the serial range's length.
    struct BatchState {
        bytes32 projectId;
        uint48 serialStart;
        uint48 serialEnd;
        uint48 nextSerial;
        uint16 vintage;
        uint48 periodStart;
        uint48 periodEnd;
        uint128 retired;
        uint128 cancelled;
    }

    /// @dev The registry's counters, one slot: issuing a batch updates two of them together.
    struct Counters {
        uint48 lastSerialEnd;
        uint64 batchCount;
        uint64 retirementCount;
    }

    /// @notice What a retirement certificate states; the registry keeps only its hash
    /// (`retirementHash`), the record itself is in the `CreditsRetired` event.
    struct Retirement {
        uint256 batchId;
        address holder;
        uint256 amount;
        uint256 serialStart;
        uint256 serialEnd;
        string beneficiary;
        string purpose;
        string jurisdiction;
        uint64 consumptionStart;
        uint64 consumptionEnd;
    }

    /// @notice The compliance ledger that surrendered credits count towards.
    IComplianceLedger public immutable compliance;

    Counters private _counters;

    mapping(bytes32 projectId => Project) private _projects;
    mapping(bytes32 periodKey => Verification) private _verifications;
    mapping(uint256 batchId => BatchState) private _batches;
    mapping(uint256 retirementId => bytes32 commitment) private _retirements;

    error ZeroProjectId();
    error ProjectExists(bytes32 projectId);
    error UnknownProject(bytes32 projectId);
    error ProjectNotActive(bytes32 projectId);
    error ProjectNotSuspended(bytes32 projectId);
    error InvalidPeriod(uint64 periodStart, uint64 periodEnd);
    error VerificationExists(bytes32 projectId, uint64 periodStart, uint64 periodEnd);
    error NoVerification(bytes32 projectId, uint64 periodStart, uint64 periodEnd);
    error PeriodAlreadyIssued(bytes32 projectId, uint64 periodStart, uint64 periodEnd);
    error MonitoringPeriodOverlap(bytes32 projectId, uint64 periodStart, uint64 lastPeriodEnd);
    error ExceedsVerifiedAmount(uint256 amount, uint256 verifiedTonnes);
    error SerialRangeOverlap(uint256 serialStart, uint256 lastSerialEnd);
    /// @dev The batch's serial range would end beyond the 48-bit serial space (2^48 - 1, about 2.8e14).
    error SerialOutOfRange(uint256 serialStart, uint256 amount);
    error UnknownBatch(uint256 batchId);
    error UnknownRetirement(uint256 retirementId);
    error CannotCancelEscrow(address holder);
    error NotEscrowAgent(address account);

    event ProjectRegistered(
        bytes32 indexed projectId, address indexed owner, string methodology, bytes32 documentHash, string location
    );
    event ProjectSuspended(bytes32 indexed projectId, bytes32 reasonHash);
    event ProjectReinstated(bytes32 indexed projectId);
    event VerificationSubmitted(
        bytes32 indexed projectId,
        address indexed verifier,
        uint64 periodStart,
        uint64 periodEnd,
        uint256 verifiedTonnes,
        bytes32 statementHash
    );
    event BatchIssued(
        uint256 indexed batchId,
        bytes32 indexed projectId,
        address indexed owner,
        uint16 vintage,
        uint256 amount,
        uint256 serialStart,
        uint256 serialEnd,
        uint64 periodStart,
        uint64 periodEnd,
        bytes32 statementHash
    );
    event CreditsRetired(
        uint256 indexed retirementId,
        uint256 indexed batchId,
        address indexed holder,
        bytes32 projectId,
        uint16 vintage,
        uint256 amount,
        uint256 serialStart,
        uint256 serialEnd,
        string beneficiary,
        string purpose,
        string jurisdiction,
        uint64 consumptionStart,
        uint64 consumptionEnd
    );
    event CreditsCancelled(
        uint256 indexed batchId,
        address indexed holder,
        uint256 amount,
        uint256 serialStart,
        uint256 serialEnd,
        bytes32 reasonHash
    );
    event CreditsSurrendered(
        uint256 indexed batchId,
        address indexed holder,
        uint64 indexed orgId,
        uint16 year,
        uint256 amount,
        uint256 serialStart,
        uint256 serialEnd
    );

    constructor(IMembership membership_, IComplianceLedger compliance_) ERC1155("") MembershipGated(membership_) {
        compliance = compliance_;
    }

    // ------------------------------------------------------------------ projects (regulator)

    /// @notice Register an emission-reduction project.
    /// @param projectId Non-zero project id (e.g. a hash of the programme's project code).
    /// @param owner The active member that receives the project's credits.
    /// @param methodology Methodology id (e.g. "CCER-14-001-V01").
    /// @param documentHash Hash of the project design document.
    /// @param location Location / jurisdiction code (e.g. "CN-GD").
    function registerProject(
        bytes32 projectId,
        address owner,
        string calldata methodology,
        bytes32 documentHash,
        string calldata location
    ) external onlyRegulator {
        if (projectId == bytes32(0)) revert ZeroProjectId();
        if (_projects[projectId].status != ProjectStatus.None) revert ProjectExists(projectId);
        _requireActive(owner);
        _projects[projectId] = Project({
            owner: owner,
            status: ProjectStatus.Active,
            lastPeriodEnd: 0,
            documentHash: documentHash,
            methodology: methodology,
            location: location
        });
        emit ProjectRegistered(projectId, owner, methodology, documentHash, location);
    }

    /// @notice Suspend a project: no credits are issued for it until it is reinstated.
    /// @param projectId The project.
    /// @param reasonHash Hash of the decision document.
    function suspendProject(bytes32 projectId, bytes32 reasonHash) external onlyRegulator {
        Project storage p = _project(projectId);
        if (p.status != ProjectStatus.Active) revert ProjectNotActive(projectId);
        p.status = ProjectStatus.Suspended;
        emit ProjectSuspended(projectId, reasonHash);
    }

    /// @notice Reinstate a suspended project.
    /// @param projectId The project.
    function reinstateProject(bytes32 projectId) external onlyRegulator {
        Project storage p = _project(projectId);
        if (p.status != ProjectStatus.Suspended) revert ProjectNotSuspended(projectId);
        p.status = ProjectStatus.Active;
        emit ProjectReinstated(projectId);
    }

    // ------------------------------------------------------------------ verification and issuance

    /// @notice Record a verifier's statement on a project's emission reductions for a
    /// monitoring period. One statement per project and period.
    /// @param projectId The project.
    /// @param periodStart First second of the monitoring period (inclusive, non-zero).
    /// @param periodEnd Last second of the monitoring period (inclusive).
    /// @param verifiedTonnes Verified reductions in tCO2e: the most that may be issued for the period.
    /// @param statementHash Hash of the verification statement.
    function submitVerification(
        bytes32 projectId,
        uint64 periodStart,
        uint64 periodEnd,
        uint256 verifiedTonnes,
        bytes32 statementHash
    ) external onlyActiveRole(Roles.VERIFIER) {
        _project(projectId);
        if (periodStart == 0 || periodStart > periodEnd) revert InvalidPeriod(periodStart, periodEnd);
        Verification storage v = _verifications[_periodKey(projectId, periodStart, periodEnd)];
        if (v.verifier != address(0)) revert VerificationExists(projectId, periodStart, periodEnd);
        v.verifier = msg.sender;
        v.submittedAt = uint64(block.timestamp);
        v.verifiedTonnes = verifiedTonnes;
        v.statementHash = statementHash;
        emit VerificationSubmitted(projectId, msg.sender, periodStart, periodEnd, verifiedTonnes, statementHash);
    }

    /// @notice Issue a batch of credits for a verified monitoring period to the project owner.
    /// @dev Refused for a suspended project, a period without a statement, a period already
    /// issued or overlapping one issued before, more than was verified, and a serial range
    /// that does not start above `lastSerialEnd`.
    /// @param projectId The project.
    /// @param periodStart Start of the verified monitoring period.
    /// @param periodEnd End of the verified monitoring period.
    /// @param vintage Vintage year of the reductions.
    /// @param amount Credits to issue, in tCO2e.
    /// @param serialStart First serial number of the batch; the batch holds `serialStart`
    /// to `serialStart + amount - 1`.
    /// @return batchId The new batch, which is also its token id.
    function issueBatch(
        bytes32 projectId,
        uint64 periodStart,
        uint64 periodEnd,
        uint16 vintage,
        uint256 amount,
        uint256 serialStart
    ) external onlyRegulator returns (uint256 batchId) {
        Project storage p = _project(projectId);
        if (p.status != ProjectStatus.Active) revert ProjectNotActive(projectId);
        Verification storage v = _verifications[_periodKey(projectId, periodStart, periodEnd)];
        if (v.verifier == address(0)) revert NoVerification(projectId, periodStart, periodEnd);
        if (v.issued) revert PeriodAlreadyIssued(projectId, periodStart, periodEnd);
        if (periodStart <= p.lastPeriodEnd) revert MonitoringPeriodOverlap(projectId, periodStart, p.lastPeriodEnd);
        if (amount == 0) revert Errors.ZeroAmount(p.owner, 0);
        if (amount > v.verifiedTonnes) revert ExceedsVerifiedAmount(amount, v.verifiedTonnes);
        Counters memory c = _counters;
        if (serialStart <= c.lastSerialEnd) revert SerialRangeOverlap(serialStart, c.lastSerialEnd);
        if (amount > type(uint48).max || serialStart > type(uint48).max - (amount - 1)) {
            revert SerialOutOfRange(serialStart, amount);
        }
        // Batches keep their period in 48 bits (8.9 million years of seconds).
        if (periodEnd > type(uint48).max) revert InvalidPeriod(periodStart, periodEnd);

        uint48 serialEnd = uint48(serialStart + amount - 1);
        batchId = ++c.batchCount;
        c.lastSerialEnd = serialEnd;
        _counters = c;
        v.issued = true;
        p.lastPeriodEnd = periodEnd;
        _batches[batchId] = BatchState({
            projectId: projectId,
            serialStart: uint48(serialStart),
            serialEnd: serialEnd,
            nextSerial: uint48(serialStart),
            vintage: vintage,
            periodStart: uint48(periodStart),
            periodEnd: uint48(periodEnd),
            retired: 0,
            cancelled: 0
        });

        address owner = p.owner;
        _emitIssued(batchId, _batches[batchId], owner, v.statementHash);
        _mint(owner, batchId, amount, "");
    }

    // ------------------------------------------------------------------ leaving circulation

    /// @notice Retire credits on behalf of a beneficiary: the units are burned for good and a
    /// retirement record (the certificate's content) is kept.
    /// @param batchId The batch (token id).
    /// @param amount Credits to retire, in tCO2e.
    /// @param beneficiary Name of the person or organisation the retirement is for.
    /// @param purpose Purpose or reason of the retirement.
    /// @param jurisdiction Jurisdiction the claim is made in (e.g. "CN").
    /// @param consumptionStart Start of the period whose emissions are offset (0 if none).
    /// @param consumptionEnd End of that period (0 if none).
    /// @return retirementId The retirement record's id.
    function retire(
        uint256 batchId,
        uint256 amount,
        string calldata beneficiary,
        string calldata purpose,
        string calldata jurisdiction,
        uint64 consumptionStart,
        uint64 consumptionEnd
    ) external returns (uint256 retirementId) {
        _requireCanTransact(msg.sender);
        if (consumptionStart > consumptionEnd) revert InvalidPeriod(consumptionStart, consumptionEnd);
        Retirement memory r;
        r.batchId = batchId;
        r.holder = msg.sender;
        r.amount = amount;
        r.beneficiary = beneficiary;
        r.purpose = purpose;
        r.jurisdiction = jurisdiction;
        r.consumptionStart = consumptionStart;
        r.consumptionEnd = consumptionEnd;
        retirementId = _retire(r);
    }

    /// @notice Cancel invalidated credits held by an account (e.g. after a reversal or a
    /// finding against the project). The units are burned.
    /// @param holder The account holding the units (a member; not the market escrow).
    /// @param batchId The batch (token id).
    /// @param amount Credits to cancel.
    /// @param reasonHash Hash of the decision document.
    /// @return serialStart First serial cancelled.
    /// @return serialEnd Last serial cancelled.
    function cancelCredits(address holder, uint256 batchId, uint256 amount, bytes32 reasonHash)
        external
        onlyRegulator
        returns (uint256 serialStart, uint256 serialEnd)
    {
        if (_isEscrowAgent(_permissions(holder))) revert CannotCancelEscrow(holder);
        BatchState storage b = _batch(batchId);
        (serialStart, serialEnd) = _consume(b, amount);
        b.cancelled += uint128(amount);
        _burn(holder, batchId, amount);
        emit CreditsCancelled(batchId, holder, amount, serialStart, serialEnd, reasonHash);
    }

    /// @notice Cancel credits held in the caller's escrow: the market does so when a regulator
    /// cancels an order's escrowed credits (`CarbonMarket.cancelEscrowedCredits`). Only an escrow
    /// agent of the suite, and only from its own balance.
    /// @inheritdoc IEscrowCancellable
    function cancelEscrowed(uint256 batchId, uint256 amount, bytes32 reasonHash)
        external
        returns (uint256 serialStart, uint256 serialEnd)
    {
        if (!_isEscrowAgent(_permissions(msg.sender))) revert NotEscrowAgent(msg.sender);
        BatchState storage b = _batch(batchId);
        (serialStart, serialEnd) = _consume(b, amount);
        b.cancelled += uint128(amount);
        _burn(msg.sender, batchId, amount);
        emit CreditsCancelled(batchId, msg.sender, amount, serialStart, serialEnd, reasonHash);
    }

    /// @notice Surrender credits towards the caller's organisation's obligation for a
    /// compliance year. The units are burned and the surrender is recorded with the
    /// compliance ledger, which enforces the window, the outstanding obligation and the
    /// offset cap.
    /// @param batchId The batch (token id).
    /// @param amount Credits to surrender, in tCO2e.
    /// @param year The compliance year.
    /// @return serialStart First serial surrendered.
    /// @return serialEnd Last serial surrendered.
    function surrender(uint256 batchId, uint256 amount, uint16 year)
        external
        returns (uint256 serialStart, uint256 serialEnd)
    {
        uint64 orgId = _orgId(_requireRoleCanTransact(Roles.ENTERPRISE, msg.sender));
        (serialStart, serialEnd) = _consume(_batch(batchId), amount);
        _burn(msg.sender, batchId, amount);
        emit CreditsSurrendered(batchId, msg.sender, orgId, year, amount, serialStart, serialEnd);
        compliance.recordSurrender(orgId, year, amount);
    }

    // ------------------------------------------------------------------ views

    /// @notice A project's owner, status, last issued period end, document hash, methodology and location.
    /// @param projectId The project.
    function project(bytes32 projectId) external view returns (Project memory) {
        return _project(projectId);
    }

    /// @notice The verification statement recorded for a project and monitoring period.
    /// @param projectId The project.
    /// @param periodStart Start of the monitoring period.
    /// @param periodEnd End of the monitoring period.
    function verification(bytes32 projectId, uint64 periodStart, uint64 periodEnd)
        external
        view
        returns (Verification memory v)
    {
        v = _verifications[_periodKey(projectId, periodStart, periodEnd)];
        if (v.verifier == address(0)) revert NoVerification(projectId, periodStart, periodEnd);
    }

    /// @notice A batch: project, vintage, period, statement, serial range, FIFO cursor and
    /// the amounts retired, cancelled and surrendered.
    /// @param batchId The batch (token id).
    function batch(uint256 batchId) external view returns (Batch memory b) {
        BatchState storage s = _batch(batchId);
        Verification storage v = _verifications[_periodKey(s.projectId, s.periodStart, s.periodEnd)];
        b = Batch({
            projectId: s.projectId,
            vintage: s.vintage,
            periodStart: s.periodStart,
            periodEnd: s.periodEnd,
            verifier: v.verifier,
            statementHash: v.statementHash,
            amount: uint256(s.serialEnd) - s.serialStart + 1,
            serialStart: s.serialStart,
            serialEnd: s.serialEnd,
            nextSerial: s.nextSerial,
            retired: s.retired,
            cancelled: s.cancelled,
            surrendered: uint256(s.nextSerial) - s.serialStart - s.retired - s.cancelled
        });
    }

    /// @notice Units of a batch in existence: its serials not yet retired, cancelled or
    /// surrendered (0 for an unknown batch).
    /// @param batchId The batch (token id).
    function totalSupply(uint256 batchId) external view returns (uint256) {
        BatchState storage s = _batches[batchId];
        return s.serialEnd == 0 ? 0 : uint256(s.serialEnd) + 1 - s.nextSerial;
    }

    /// @notice Whether a batch has been issued.
    /// @param batchId The batch (token id).
    function exists(uint256 batchId) external view returns (bool) {
        return _batches[batchId].serialEnd != 0;
    }

    /// @notice The last serial number issued (0 before the first batch).
    function lastSerialEnd() external view returns (uint256) {
        return _counters.lastSerialEnd;
    }

    /// @notice Number of batches issued; batch ids run from 1 to `batchCount`.
    function batchCount() external view returns (uint256) {
        return _counters.batchCount;
    }

    /// @notice Number of retirements; retirement ids run from 1 to `retirementCount`.
    function retirementCount() external view returns (uint256) {
        return _counters.retirementCount;
    }

    /// @notice The commitment to a retirement record (`retirementHash` of what its certificate
    /// states, as emitted in `CreditsRetired`); reverts with `UnknownRetirement` if none.
    /// @param retirementId The retirement.
    function retirement(uint256 retirementId) external view returns (bytes32 commitment) {
        commitment = _retirements[retirementId];
        if (commitment == bytes32(0)) revert UnknownRetirement(retirementId);
    }

    /// @notice The commitment to a retirement record: keccak256 of its ABI encoding
    /// (`abi.encode(Retirement)`, the tuple of its fields in declaration order).
    /// @param r The record.
    function retirementHash(Retirement memory r) public pure returns (bytes32) {
        return keccak256(abi.encode(r));
    }

    // ------------------------------------------------------------------ internals

    /// @dev Every balance change: mints go to an account that may hold; transfers need the
    /// sender, the receiver and the operator to be active unfrozen members or an escrow
    /// agent. Burns are gated by the functions that make them.
    function _update(address from, address to, uint256[] memory ids, uint256[] memory values)
        internal
        override
    {
        _requireHolders(_msgSender(), from, to);
        super._update(from, to, ids, values);
    }

    function _emitIssued(uint256 batchId, BatchState storage b, address owner, bytes32 statementHash) private {
        emit BatchIssued(
            batchId,
            b.projectId,
            owner,
            b.vintage,
            uint256(b.serialEnd) - b.serialStart + 1,
            b.serialStart,
            b.serialEnd,
            b.periodStart,
            b.periodEnd,
            statementHash
        );
    }

    /// @dev Takes the next `amount` serials. The burn that follows refuses more than the holder
    /// has, and no holder has more than the batch's unconsumed serials, so the cursor stays in range.
    function _consume(BatchState storage b, uint256 amount) private returns (uint256 first, uint256 last) {
        if (amount == 0) revert Errors.ZeroAmount(msg.sender, 0);
        first = b.nextSerial;
        last = first + amount - 1;
        b.nextSerial = uint48(last + 1);
    }

    /// @dev Takes the serials, burns the units and keeps the record's hash; the record goes in the event.
    function _retire(Retirement memory r) private returns (uint256 retirementId) {
        BatchState storage b = _batch(r.batchId);
        (r.serialStart, r.serialEnd) = _consume(b, r.amount);
        b.retired += uint128(r.amount);
        retirementId = ++_counters.retirementCount;
        _retirements[retirementId] = retirementHash(r);
        _burn(msg.sender, r.batchId, r.amount);
        _emitRetired(retirementId, b, r);
    }

    function _emitRetired(uint256 retirementId, BatchState storage b, Retirement memory r) private {
        emit CreditsRetired(
            retirementId,
            r.batchId,
            r.holder,
            b.projectId,
            b.vintage,
            r.amount,
            r.serialStart,
            r.serialEnd,
            r.beneficiary,
            r.purpose,
            r.jurisdiction,
            r.consumptionStart,
            r.consumptionEnd
        );
    }

    function _project(bytes32 projectId) private view returns (Project storage p) {
        p = _projects[projectId];
        if (p.status == ProjectStatus.None) revert UnknownProject(projectId);
    }

    function _batch(uint256 batchId) private view returns (BatchState storage b) {
        b = _batches[batchId];
        if (b.serialEnd == 0) revert UnknownBatch(batchId);
    }

    function _periodKey(bytes32 projectId, uint64 periodStart, uint64 periodEnd) private pure returns (bytes32) {
        return keccak256(abi.encode(projectId, periodStart, periodEnd));
    }
}
