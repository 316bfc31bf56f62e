// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {ERC1155} from "@openzeppelin/contracts/token/ERC1155/ERC1155.sol";
import {ERC1155Supply} from "@openzeppelin/contracts/token/ERC1155/extensions/ERC1155Supply.sol";
import {IMembership} from "./interfaces/IMembership.sol";
import {IComplianceLedger} from "./interfaces/IComplianceLedger.sol";
import {MembershipGated} from "./base/MembershipGated.sol";
import {Roles} from "./base/Roles.sol";

/// @title AllowanceRegistry
/// @notice Emission allowances as ERC-1155 tokens: one token id per compliance year
/// (id = year, the allowance's vintage), one token = one tCO2e. The regulator allocates
/// allowances to enterprises and may retract surplus of a pre-allocation; members trade
/// them among themselves (and through the market's escrow); enterprises surrender them
/// against their compliance obligation, recorded in the ComplianceLedger.
/// @dev Banking is allowed: a vintage may be surrendered for its own or any later
/// compliance year, never for an earlier one. Only active, unfrozen members and the
/// suite's escrow agents may hold or move allowances.
contract AllowanceRegistry is ERC1155Supply, MembershipGated {
    /// @notice Human-readable name of the token collection.
    string public constant name = "CarbonLedger Emission Allowance";
    /// @notice Short symbol of the token collection.
    string public constant symbol = "CEA";

    /// @notice The compliance accounts that surrenders are recorded in.
    IComplianceLedger public immutable compliance;

    /// @notice Allowances of a vintage allocated to a holder by the regulator, net of retractions.
    mapping(uint16 year => mapping(address holder => uint256)) public allocated;

    /// @dev Two parallel arrays of a call have different lengths.
    error LengthMismatch(uint256 left, uint256 right);
    /// @dev A batch call was given no entries.
    error EmptyBatch();
    /// @dev Year 0 is not a compliance year.
    error InvalidYear(uint16 year);
    /// @dev A zero amount of token `id` was given for `account`.
    error ZeroAmount(address account, uint256 id);
    /// @dev A vintage later than the compliance year was offered (no borrowing from the future).
    error VintageAfterComplianceYear(uint256 vintage, uint16 complianceYear);
    /// @dev More than the regulator allocated to the holder (net of earlier retractions) would be retracted.
    error RetractExceedsAllocation(address holder, uint16 year, uint256 requested, uint256 allocated);
    /// @dev The zero address was given where a contract or account is required.
    error ZeroAddress();

    /// @notice `amount` allowances of vintage `year` were allocated to `holder` of organisation `orgId`.
    event Allocated(uint16 indexed year, address indexed holder, uint64 indexed orgId, uint256 amount);
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
        if (address(membership_) == address(0) || address(compliance_) == address(0)) revert ZeroAddress();
        compliance = compliance_;
    }

    // ------------------------------------------------------------------ regulator

    /// @notice Allocate allowances of a vintage to many enterprises in one transaction.
    /// @dev Each holder must be an active, unfrozen member with the ENTERPRISE role.
    /// Emits `Allocated` and the ERC-1155 `TransferSingle` for each holder.
    /// @param year Vintage (compliance year) of the allowances; the token id.
    /// @param holders Enterprise accounts receiving allowances.
    /// @param amounts Allowances (tCO2e) for each holder, in the same order; none may be zero.
    function allocate(uint16 year, address[] calldata holders, uint256[] calldata amounts) external onlyRegulator {
        if (year == 0) revert InvalidYear(year);
        if (holders.length != amounts.length) revert LengthMismatch(holders.length, amounts.length);
        if (holders.length == 0) revert EmptyBatch();
        for (uint256 i = 0; i < holders.length; i++) {
            address holder = holders[i];
            uint256 amount = amounts[i];
            if (amount == 0) revert ZeroAmount(holder, year);
            _requireActiveRole(Roles.ENTERPRISE, holder);
            _requireCanTransact(holder);
            allocated[year][holder] += amount;
            emit Allocated(year, holder, membership.orgOf(holder), amount);
            _mint(holder, year, amount, "");
        }
    }

    /// @notice Take back allowances the regulator allocated (e.g. surplus of a pre-allocation)
    /// by burning them from the holder, whatever the holder's membership status.
    /// @param holder The account holding the allowances.
    /// @param year Vintage of the allowances.
    /// @param amount Allowances to take back; at most what was allocated to the holder (net of
    /// earlier retractions) and at most the holder's balance.
    /// @param reasonHash Hash of the decision document.
    function retract(address holder, uint16 year, uint256 amount, bytes32 reasonHash) external onlyRegulator {
        if (amount == 0) revert ZeroAmount(holder, year);
        uint256 net = allocated[year][holder];
        if (amount > net) revert RetractExceedsAllocation(holder, year, amount, net);
        allocated[year][holder] = net - amount;
        emit Retracted(year, holder, membership.orgOf(holder), amount, reasonHash);
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
        onlyActiveRole(Roles.ENTERPRISE)
    {
        address holder = _msgSender();
        _requireCanTransact(holder);
        if (vintages.length != amounts.length) revert LengthMismatch(vintages.length, amounts.length);
        if (vintages.length == 0) revert EmptyBatch();
        uint64 orgId = membership.orgOf(holder);
        uint256 total;
        for (uint256 i = 0; i < vintages.length; i++) {
            if (amounts[i] == 0) revert ZeroAmount(holder, vintages[i]);
            if (vintages[i] > complianceYear) revert VintageAfterComplianceYear(vintages[i], complianceYear);
            total += amounts[i];
        }
        _burnBatch(holder, vintages, amounts);
        for (uint256 i = 0; i < vintages.length; i++) {
            emit Surrendered(orgId, complianceYear, holder, vintages[i], amounts[i]);
        }
        compliance.recordSurrender(orgId, complianceYear, total);
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
