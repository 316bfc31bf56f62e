// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {ERC1155} from "@openzeppelin/contracts/token/ERC1155/ERC1155.sol";
import {IMembership} from "./interfaces/IMembership.sol";
import {IProductionAnchors} from "./interfaces/IProductionAnchors.sol";
import {MembershipGated} from "./base/MembershipGated.sol";
import {Errors} from "./lib/Errors.sol";
import {Roles} from "./base/Roles.sol";

/// @title GreenCertificates
/// @notice Green electricity certificates (GEC) as ERC-1155 tokens, one token id per issuance
/// batch, 1 unit = 1 MWh of renewable electricity. A regulator issues a batch to a renewable
/// generator for a production period, citing the generator's production anchors (MeterAnchor's
/// anchored generation-meter readings); the batch is capped by the anchored energy. Certificates
/// move only between active, unfrozen members and the market escrow. An enterprise consumes
/// certificates to claim renewable electricity for its own organisation and a consumption
/// period (market-based Scope 2); the units are burned and the serial range is recorded.
/// @dev Storage keeps commitments, not copies: per batch one slot (generator organisation, serial
/// range and FIFO cursor, from which the remaining supply follows), per anchor one bit; the
/// anchors cited, the Wh they hold, the periods and the beneficiaries are in the events.
/// An anchor backs at most one batch and is used whole: partial use is not allowed, so one bit
/// per anchor settles "certified at most once" and the audit trail of a batch is exactly the
/// anchors it cites. Whatever the cited anchors hold beyond the certificates issued (at least the
/// sub-MWh remainder) is not certified, ever: the issuer chooses the anchors of a batch so that
/// little is left over (a production period's windows together). Serials are unique across the
/// contract by the rule of CreditRegistry: a batch's range starts above `lastSerialEnd`.
contract GreenCertificates is ERC1155, MembershipGated {
    /// @notice Watt-hours per certificate (1 MWh).
    uint256 public constant WH_PER_CERTIFICATE = 1_000_000;

    /// @notice What a batch keeps for later checks, in one slot.
    struct Batch {
        uint64 generatorOrgId;
        uint64 serialStart;
        uint64 serialEnd;
        /// @dev The next serial a consumption takes; `serialEnd + 1` once every unit is consumed.
        uint64 nextSerial;
    }

    /// @notice Where the production anchors cited by an issuance are read (MeterAnchor).
    IProductionAnchors public immutable productionAnchors;

    /// @notice The last serial number issued (0 before the first batch).
    uint64 public lastSerialEnd;
    /// @notice Number of batches issued; batch ids run from 1 to `batchCount`.
    uint64 public batchCount;
    /// @notice Whether an enterprise's market-based Scope 2 (electricity not covered by consumed
    /// certificates) is the figure used for compliance; location-based when false (the default).
    bool public marketBasedScope2Counts;

    mapping(uint256 batchId => Batch) private _batches;
    /// @dev Bit `anchorId % 256` of word `anchorId / 256`: the anchor backs a batch.
    mapping(uint256 word => uint256 bits) private _certifiedAnchors;

    error InvalidPeriod(uint64 periodStart, uint64 periodEnd);
    error AnchorOfAnotherEnterprise(uint256 anchorId, uint64 anchorOrgId, uint64 generatorOrgId);
    error AnchorOutsidePeriod(uint256 anchorId, uint64 windowStart, uint64 windowEnd);
    error AnchorAlreadyCertified(uint256 anchorId);
    error ExceedsAnchoredProduction(uint256 amount, uint256 anchoredWh);
    error SerialRangeOverlap(uint256 serialStart, uint256 lastSerialEnd);
    error SerialRangeTooLarge(uint256 serialStart, uint256 amount);
    error UnknownBatch(uint256 batchId);

    /// @notice A batch was issued to `generator` for production in `[periodStart, periodEnd)`,
    /// backed by the production anchors `anchorIds` holding `anchoredWh` in all.
    event CertificatesIssued(
        uint256 indexed batchId,
        address indexed generator,
        uint64 indexed generatorOrgId,
        uint64 periodStart,
        uint64 periodEnd,
        uint256 amount,
        uint256 serialStart,
        uint256 serialEnd,
        uint256 anchoredWh,
        uint256[] anchorIds
    );
    /// @notice `holder` consumed certificates of a batch for its organisation `beneficiaryOrgId`'s
    /// electricity in `[consumptionStart, consumptionEnd)`; the serials are gone for good.
    event CertificatesConsumed(
        uint256 indexed batchId,
        address indexed holder,
        uint64 indexed beneficiaryOrgId,
        uint256 amount,
        uint256 serialStart,
        uint256 serialEnd,
        uint64 consumptionStart,
        uint64 consumptionEnd
    );
    /// @notice The regulator set whether market-based Scope 2 counts for compliance.
    event MarketBasedScope2Set(bool counts);

    constructor(IMembership membership_, IProductionAnchors productionAnchors_)
        ERC1155("")
        MembershipGated(membership_)
    {
        if (address(productionAnchors_) == address(0)) revert Errors.ZeroAddress();
        productionAnchors = productionAnchors_;
    }

    // ------------------------------------------------------------------ regulator

    /// @notice Say whether market-based Scope 2 is the figure used for compliance.
    /// @param counts True: market-based; false: location-based (the default).
    function setMarketBasedScope2Counts(bool counts) external onlyRegulator {
        marketBasedScope2Counts = counts;
        emit MarketBasedScope2Set(counts);
    }

    /// @notice Issue a batch of certificates to a renewable generator for its anchored production.
    /// @dev Each cited anchor must be a production anchor of the generator's organisation whose
    /// window lies inside `[periodStart, periodEnd)` and that backs no batch yet; it is used whole.
    /// @param generator The generator's account (an active enterprise member; receives the batch).
    /// @param periodStart Start of the production period (inclusive, non-zero).
    /// @param periodEnd End of the production period (exclusive).
    /// @param anchorIds The production anchors backing the batch.
    /// @param amount Certificates to issue, in MWh: at most the cited anchors' Wh / 1,000,000.
    /// @param serialStart First serial of the batch, above `lastSerialEnd`; the batch holds
    /// `serialStart` to `serialStart + amount - 1`.
    /// @return batchId The new batch, which is also its token id.
    function issue(
        address generator,
        uint64 periodStart,
        uint64 periodEnd,
        uint256[] calldata anchorIds,
        uint256 amount,
        uint256 serialStart
    ) external onlyRegulator returns (uint256 batchId) {
        uint64 orgId = _orgId(_requireActiveRole(Roles.ENTERPRISE, generator));
        if (periodStart == 0 || periodStart >= periodEnd) revert InvalidPeriod(periodStart, periodEnd);
        if (anchorIds.length == 0) revert Errors.EmptyBatch();
        if (amount == 0) revert Errors.ZeroAmount(generator, 0);
        uint256 anchoredWh = _certify(anchorIds, orgId, periodStart, periodEnd);
        if (amount * WH_PER_CERTIFICATE > anchoredWh) revert ExceedsAnchoredProduction(amount, anchoredWh);
        batchId = _newBatch(orgId, amount, serialStart);
        _emitIssued(batchId, generator, periodStart, periodEnd, amount, anchoredWh, anchorIds);
        _mint(generator, batchId, amount, "");
    }

    // ------------------------------------------------------------------ consumption

    /// @notice Consume certificates to claim renewable electricity for the caller's organisation
    /// and a consumption period: the units are burned, first serials first.
    /// @param batchId The batch (token id).
    /// @param amount Certificates to consume, in MWh.
    /// @param consumptionStart Start of the consumption period (inclusive, non-zero).
    /// @param consumptionEnd End of the consumption period (exclusive).
    /// @return serialStart First serial consumed.
    /// @return serialEnd Last serial consumed.
    function consume(uint256 batchId, uint256 amount, uint64 consumptionStart, uint64 consumptionEnd)
        external
        returns (uint256 serialStart, uint256 serialEnd)
    {
        uint64 orgId = _orgId(_requireRoleCanTransact(Roles.ENTERPRISE, msg.sender));
        if (consumptionStart == 0 || consumptionStart >= consumptionEnd) {
            revert InvalidPeriod(consumptionStart, consumptionEnd);
        }
        if (amount == 0) revert Errors.ZeroAmount(msg.sender, batchId);
        Batch storage b = _batch(batchId);
        serialStart = b.nextSerial;
        serialEnd = serialStart + amount - 1;
        // The burn below refuses more than the caller holds, and the caller holds no more than is left.
        b.nextSerial = uint64(serialEnd + 1);
        _burn(msg.sender, batchId, amount);
        emit CertificatesConsumed(
            batchId, msg.sender, orgId, amount, serialStart, serialEnd, consumptionStart, consumptionEnd
        );
    }

    // ------------------------------------------------------------------ views

    /// @notice A batch: generator organisation, serial range and the next serial to be consumed.
    /// @param batchId The batch (token id).
    function batch(uint256 batchId) external view returns (Batch memory) {
        return _batch(batchId);
    }

    /// @notice Certificates of a batch still in circulation (issued and not consumed); 0 for an unknown id.
    /// @param batchId The batch (token id).
    function totalSupply(uint256 batchId) external view returns (uint256) {
        Batch storage b = _batches[batchId];
        return b.serialEnd == 0 ? 0 : uint256(b.serialEnd) + 1 - b.nextSerial;
    }

    /// @notice Whether a production anchor already backs a batch.
    /// @param anchorId The anchor (MeterAnchor id).
    function anchorCertified(uint256 anchorId) external view returns (bool) {
        return _certifiedAnchors[anchorId >> 8] & (1 << (anchorId & 0xff)) != 0;
    }

    // ------------------------------------------------------------------ internals

    /// @dev Every balance change: mints go to an account that may hold; transfers need the
    /// sender, the receiver and the operator to be active unfrozen members or an escrow agent.
    /// Burns are gated by `consume`.
    function _update(address from, address to, uint256[] memory ids, uint256[] memory values)
        internal
        override
    {
        _requireHolders(_msgSender(), from, to);
        super._update(from, to, ids, values);
    }

    /// @dev Checks every anchor, marks it certified and returns the Wh they hold together.
    function _certify(uint256[] calldata anchorIds, uint64 orgId, uint64 periodStart, uint64 periodEnd)
        private
        returns (uint256 anchoredWh)
    {
        for (uint256 i; i < anchorIds.length; ++i) {
            uint256 anchorId = anchorIds[i];
            (uint64 anchorOrg, uint64 windowStart, uint64 windowEnd, uint64 wh) =
                productionAnchors.productionOf(anchorId);
            if (anchorOrg != orgId) revert AnchorOfAnotherEnterprise(anchorId, anchorOrg, orgId);
            if (windowStart < periodStart || windowEnd > periodEnd) {
                revert AnchorOutsidePeriod(anchorId, windowStart, windowEnd);
            }
            uint256 word = anchorId >> 8;
            uint256 bit = 1 << (anchorId & 0xff);
            uint256 bits = _certifiedAnchors[word];
            if (bits & bit != 0) revert AnchorAlreadyCertified(anchorId);
            _certifiedAnchors[word] = bits | bit;
            anchoredWh += wh;
        }
    }

    /// @dev Takes the serial range (unique: above every range issued before) and records the batch.
    function _newBatch(uint64 orgId, uint256 amount, uint256 serialStart) private returns (uint256 batchId) {
        uint256 lastEnd = lastSerialEnd;
        if (serialStart <= lastEnd) revert SerialRangeOverlap(serialStart, lastEnd);
        uint256 serialEnd = serialStart + amount - 1;
        if (serialEnd > type(uint64).max) revert SerialRangeTooLarge(serialStart, amount);
        batchId = batchCount + 1;
        batchCount = uint64(batchId);
        lastSerialEnd = uint64(serialEnd);
        _batches[batchId] = Batch(orgId, uint64(serialStart), uint64(serialEnd), uint64(serialStart));
    }

    function _emitIssued(
        uint256 batchId,
        address generator,
        uint64 periodStart,
        uint64 periodEnd,
        uint256 amount,
        uint256 anchoredWh,
        uint256[] calldata anchorIds
    ) private {
        Batch memory b = _batches[batchId];
        emit CertificatesIssued(
            batchId, generator, b.generatorOrgId, periodStart, periodEnd, amount, b.serialStart, b.serialEnd,
            anchoredWh, anchorIds
        );
    }

    function _batch(uint256 batchId) private view returns (Batch storage b) {
        b = _batches[batchId];
        if (b.serialEnd == 0) revert UnknownBatch(batchId);
    }
}
