// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {ERC1155} from "@openzeppelin/contracts/token/ERC1155/ERC1155.sol";
import {IMembership} from "./interfaces/IMembership.sol";
import {IComplianceLedger} from "./interfaces/IComplianceLedger.sol";
import {MembershipGated} from "./base/MembershipGated.sol";
import {Roles} from "./base/Roles.sol";
import {Errors} from "./lib/Errors.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

/// @title AllowanceRegistry
/// @notice Emission allowances as ERC-1155 tokens: one token id per compliance year
/// (id = year, the allowance's vintage), one token = one tCO2e. The regulator allocates
/// allowances to enterprises and may retract surplus of a pre-allocation; members trade
/// them among themselves (and through the market's escrow); enterprises surrender them
/// against their compliance obligation, recorded in the ComplianceLedger.
/// @dev Banking is allowed: a vintage may be surrendered for its own or any later
/// compliance year, never for an earlier one. Only active, unfrozen members and the
/// suite's escrow agents may hold or move allowances. A vintage's supply is what was allocated
/// (net of retractions) less what was surrendered, kept per vintage in one slot: no per-holder
/// copy of an allocation is kept or emitted beyond the ERC-1155 `TransferSingle` mint, which is
/// the allocation's record (the registry mints only by allocating).
contract AllowanceRegistry is ERC1155, MembershipGated {
    /// @notice Human-readable name of the token collection.
    string public constant name = "CarbonLedger Emission Allowance";
    /// @notice Short symbol of the token collection.
    string public constant symbol = "CEA";

    /// @notice The compliance accounts that surrenders are recorded in.
    IComplianceLedger public immutable compliance;

    /// @dev Per vintage, one slot: allocated by the regulator to all holders (net of retractions)
    /// and surrendered. Not per holder, which would double the cost of an allocation: the
    /// per-holder figures are in the `TransferSingle` mints and the `Retracted` events.
    struct Vintage {
        uint128 allocated;
        uint128 surrendered;
    }

    mapping(uint16 year => Vintage) private _vintages;
    /// @dev A vintage later than the compliance year was offered (no borrowing from the future).
    error VintageAfterComplianceYear(uint256 vintage, uint16 complianceYear);
    /// @dev More than the regulator allocated in the vintage (net of earlier retractions) would be retracted.
    error RetractExceedsAllocation(address holder, uint16 year, uint256 requested, uint256 allocated);

    /// @notice The regulator allocated `total` allowances of vintage `year` to `holders` accounts; each
    /// holder's allowances are the `TransferSingle` mint (from the zero address) of the same transaction.
    event Allocated(uint16 indexed year, uint256 holders, uint256 total);
    /// @notice The regulator took back `amount` allowances of vintage `year` from `holder`.
    event Retracted(
        uint16 indexed year, address indexed holder, uint64 indexed orgId, uint256 amount, bytes32 reasonHash
    );
    /// @notice `holder` of organisation `orgId` surrendered `amount` allowances of `vintage` for `complianceYear`.
    event Surrendered(
        uint64 indexed orgId, uint16 indexed complianceYear, address indexed holder, uint256 vintage, uint256 amount
    );
    /// @notice The metadata URI template of every token id changed.
    event BaseURISet(string newUri);

    /// @param membership_ The Membership registry.
    /// @param compliance_ The ComplianceLedger that surrenders are recorded in.
    constructor(IMembership membership_, IComplianceLedger compliance_)
        ERC1155("https://registry.carbonledger.example/allowances/{id}.json")
        MembershipGated(membership_)
    {
        if (address(membership_) == address(0) || address(compliance_) == address(0)) revert Errors.ZeroAddress();
        compliance = compliance_;
    }

    // ------------------------------------------------------------------ regulator

    /// @notice Allocate allowances of a vintage to many enterprises in one transaction.
    /// @dev Each holder must be an active, unfrozen member with the ENTERPRISE role. Mints without
    /// the ERC-1155 receiver hook: ENTERPRISE members are accounts that sign their own
    /// transactions, and the hook's cold look-up of each holder's code would cost a tenth of the
    /// per-holder budget. Transfers keep the hook.
    /// The holders are checked from the mirrored permission words (`_firstLackingRole`, one local slot each:
    /// cheaper than one call to `Membership.firstLackingRole` for the batch).
    /// Emits the ERC-1155 `TransferSingle` for each holder and one `Allocated` for the batch.
    /// @param year Vintage (compliance year) of the allowances; the token id.
    /// @param holders Enterprise accounts receiving allowances.
    /// @param amounts Allowances (tCO2e) for each holder, in the same order; none may be zero.
    function allocate(uint16 year, address[] calldata holders, uint256[] calldata amounts) external onlyRegulator {
        if (year == 0) revert Errors.InvalidYear(year);
        if (holders.length != amounts.length) revert Errors.LengthMismatch(holders.length, amounts.length);
        if (holders.length == 0) revert Errors.EmptyBatch();
        uint256 total;
        uint256 lacking = _firstLackingRole(holders, Roles.ENTERPRISE);
        // One pair of singleton arrays for the whole batch, refilled per holder.
        uint256[] memory ids = new uint256[](1);
        uint256[] memory values = new uint256[](1);
        ids[0] = year;
        for (uint256 i = 0; i < holders.length; ) {
            address holder = holders[i];
            uint256 amount = amounts[i];
            if (amount == 0) revert Errors.ZeroAmount(holder, year);
            // The holder Membership refused: ask again for it alone, to revert with its reason.
            if (i + 1 == lacking) _requireRoleCanTransact(Roles.ENTERPRISE, holder);
            total += amount;
            values[0] = amount;
            _update(address(0), holder, ids, values);
            unchecked {
                ++i; // bounded by the array's length
            }
        }
        _vintages[year].allocated += SafeCast.toUint128(total);
        emit Allocated(year, holders.length, total);
    }

    /// @notice Take back allowances the regulator allocated (e.g. surplus of a pre-allocation)
    /// by burning them from the holder, whatever the holder's membership status.
    /// @param holder The account holding the allowances.
    /// @param year Vintage of the allowances.
    /// @param amount Allowances to take back; at most what was allocated in the vintage to all
    /// holders (net of earlier retractions) and at most the holder's balance. The holder's own
    /// allocation is in its mints and `Retracted` events, not in storage.
    /// @param reasonHash Hash of the decision document.
    function retract(address holder, uint16 year, uint256 amount, bytes32 reasonHash) external onlyRegulator {
        if (amount == 0) revert Errors.ZeroAmount(holder, year);
        uint256 net = _vintages[year].allocated;
        if (amount > net) revert RetractExceedsAllocation(holder, year, amount, net);
        _vintages[year].allocated = uint128(net - amount);
        emit Retracted(year, holder, _orgId(_permissions(holder)), amount, reasonHash);
        _burn(holder, year, amount);
    }

    /// @notice Change the metadata URI template of every token id (`{id}` is replaced by clients).
    /// @param newUri The new template.
    function setURI(string calldata newUri) external onlyRegulator {
        _setURI(newUri);
        emit BaseURISet(newUri);
    }

    // ------------------------------------------------------------------ enterprises

    /// @notice Surrender allowances towards the caller's organisation's obligation for a
    /// compliance year: the units are burned and recorded in the ComplianceLedger.
    /// @dev The caller must be an active, unfrozen ENTERPRISE member. Vintages may be earlier
    /// than the compliance year (banking) but never later. The ComplianceLedger refuses the
    /// surrender when the year's window is closed, the obligation is not finalized, or the
    /// total exceeds what is outstanding.
    /// @param complianceYear The compliance year the allowances count towards.
    /// @param vintages Token ids (vintage years) to surrender.
    /// @param amounts Allowances of each vintage, in the same order; none may be zero.
    function surrender(uint16 complianceYear, uint256[] calldata vintages, uint256[] calldata amounts)
        external
    {
        address holder = _msgSender();
        uint64 orgId = _orgId(_requireRoleCanTransact(Roles.ENTERPRISE, holder));
        if (vintages.length != amounts.length) revert Errors.LengthMismatch(vintages.length, amounts.length);
        if (vintages.length == 0) revert Errors.EmptyBatch();
        uint256 total;
        for (uint256 i = 0; i < vintages.length; i++) {
            if (amounts[i] == 0) revert Errors.ZeroAmount(holder, vintages[i]);
            if (vintages[i] > complianceYear) revert VintageAfterComplianceYear(vintages[i], complianceYear);
            total += amounts[i];
        }
        _burnBatch(holder, vintages, amounts);
        for (uint256 i = 0; i < vintages.length; i++) {
            // The vintage is at most the compliance year (checked above), so it fits its 16 bits.
            _vintages[uint16(vintages[i])].surrendered += uint128(amounts[i]);
            emit Surrendered(orgId, complianceYear, holder, vintages[i], amounts[i]);
        }
        compliance.recordSurrender(orgId, complianceYear, total);
    }

    // ------------------------------------------------------------------ views

    /// @notice Allowances of a vintage allocated by the regulator to all holders, net of retractions.
    /// @param year The vintage.
    function allocatedTotal(uint16 year) external view returns (uint256) {
        return _vintages[year].allocated;
    }

    /// @notice Allowances of a vintage in existence: allocated (net of retractions) less surrendered.
    /// @param id The vintage (token id).
    function totalSupply(uint256 id) public view returns (uint256) {
        if (id > type(uint16).max) return 0;
        Vintage storage v = _vintages[uint16(id)];
        return uint256(v.allocated) - v.surrendered;
    }

    /// @notice Whether allowances of a vintage exist.
    /// @param id The vintage (token id).
    function exists(uint256 id) external view returns (bool) {
        return totalSupply(id) > 0;
    }

    // ------------------------------------------------------------------ transfers

    /// @dev Transfers between holders (not mints or burns, which are checked by the functions
    /// that make them): sender and receiver must be able to hold allowances, and so must an
    /// operator acting for the sender.
    function _update(address from, address to, uint256[] memory ids, uint256[] memory values)
        internal
        virtual
        override
    {
        if (from != address(0) && to != address(0)) {
            address operator = _msgSender();
            if (operator != from) _requireCanHold(operator);
            _requireCanHold(from);
            _requireCanHold(to);
        }
        super._update(from, to, ids, values);
    }
}
