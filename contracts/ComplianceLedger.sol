// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IMembership} from "./interfaces/IMembership.sol";
import {IComplianceLedger} from "./interfaces/IComplianceLedger.sol";
import {MembershipGated} from "./base/MembershipGated.sol";
import {Errors} from "./lib/Errors.sol";

/// @title ComplianceLedger
/// @notice The compliance account of every enterprise and year: the obligation (finalized
/// verified emissions in whole tonnes), the allowances and offset credits surrendered
/// against it, and the shortfall. Offset credits may cover at most `creditCapBps` of the
/// obligation (5% by default, as in China's national market). Surrenders are accepted
/// only while the regulator keeps the year's compliance window open.
contract ComplianceLedger is MembershipGated, IComplianceLedger {
    /// @notice Basis points of an obligation that offset credits may cover.
    uint16 public creditCapBps = 500;
    uint16 public constant MAX_BPS = 10_000;

    struct Account {
        uint256 obligation;
        uint256 allowancesSurrendered;
        uint256 creditsSurrendered;
        bool finalized;
    }

    mapping(uint64 orgId => mapping(uint16 year => Account)) private _accounts;
    mapping(uint16 year => bool) private _windowOpen;
    mapping(address source => bool) public obligationSource;
    mapping(address registry => AssetKind) public assetRegistryKind;

    error NotObligationSource(address caller);
    error NotAssetRegistry(address caller);
    error ObligationAlreadySet(uint64 orgId, uint16 year);
    error ObligationNotFinalized(uint64 orgId, uint16 year);
    error ComplianceWindowNotOpen(uint16 year);
    error ComplianceWindowAlreadyOpen(uint16 year);
    error SurrenderExceedsObligation(uint64 orgId, uint16 year, uint256 requested, uint256 outstanding);
    error CreditCapExceeded(uint64 orgId, uint16 year, uint256 requested, uint256 remainingCap);
    error InvalidBps(uint16 bps);

    event ObligationSourceSet(address indexed source, bool allowed);
    event AssetRegistrySet(address indexed registry, AssetKind kind);
    event ObligationSet(uint64 indexed orgId, uint16 indexed year, uint256 tonnes);
    event SurrenderRecorded(
        uint64 indexed orgId, uint16 indexed year, AssetKind kind, address indexed registry, uint256 tonnes
    );
    event ComplianceWindowOpened(uint16 indexed year);
    event ComplianceWindowClosed(uint16 indexed year);
    event CreditCapSet(uint16 bps);

    constructor(IMembership membership_) MembershipGated(membership_) {}

    // ------------------------------------------------------------------ wiring (regulator)

    /// @notice Allow or disallow a contract (the EmissionRegistry) to set obligations.
    /// @param source The contract.
    /// @param allowed Whether it may set obligations.
    function setObligationSource(address source, bool allowed) external onlyRegulator {
        if (source == address(0)) revert Errors.ZeroAddress();
        obligationSource[source] = allowed;
        emit ObligationSourceSet(source, allowed);
    }

    /// @notice Register an asset registry whose surrenders count, and as what (None removes it).
    /// @param registry The registry contract.
    /// @param kind Allowance or Credit.
    function setAssetRegistry(address registry, AssetKind kind) external onlyRegulator {
        if (registry == address(0)) revert Errors.ZeroAddress();
        assetRegistryKind[registry] = kind;
        emit AssetRegistrySet(registry, kind);
    }

    /// @notice Set the share of an obligation that offset credits may cover, in basis points.
    /// @param bps Basis points (500 = 5%).
    function setCreditCapBps(uint16 bps) external onlyRegulator {
        if (bps > MAX_BPS) revert InvalidBps(bps);
        creditCapBps = bps;
        emit CreditCapSet(bps);
    }

    /// @notice Open a year's compliance window: surrenders for that year are accepted.
    /// @param year Compliance year.
    function openComplianceWindow(uint16 year) external onlyRegulator {
        if (_windowOpen[year]) revert ComplianceWindowAlreadyOpen(year);
        _windowOpen[year] = true;
        emit ComplianceWindowOpened(year);
    }

    /// @notice Close a year's compliance window: no more surrenders for that year.
    /// @param year Compliance year.
    function closeComplianceWindow(uint16 year) external onlyRegulator {
        if (!_windowOpen[year]) revert ComplianceWindowNotOpen(year);
        _windowOpen[year] = false;
        emit ComplianceWindowClosed(year);
    }

    // ------------------------------------------------------------------ accounting

    /// @inheritdoc IComplianceLedger
    function setObligation(uint64 orgId, uint16 year, uint256 tonnes) external {
        if (!obligationSource[msg.sender]) revert NotObligationSource(msg.sender);
        Account storage acct = _accounts[orgId][year];
        if (acct.finalized) revert ObligationAlreadySet(orgId, year);
        acct.obligation = tonnes;
        acct.finalized = true;
        emit ObligationSet(orgId, year, tonnes);
    }

    /// @inheritdoc IComplianceLedger
    function recordSurrender(uint64 orgId, uint16 year, uint256 tonnes) external {
        AssetKind kind = assetRegistryKind[msg.sender];
        if (kind == AssetKind.None) revert NotAssetRegistry(msg.sender);
        if (tonnes == 0) revert Errors.ZeroAmount(msg.sender, year);
        if (!_windowOpen[year]) revert ComplianceWindowNotOpen(year);
        Account storage acct = _accounts[orgId][year];
        if (!acct.finalized) revert ObligationNotFinalized(orgId, year);
        uint256 outstanding = _shortfall(acct);
        if (tonnes > outstanding) revert SurrenderExceedsObligation(orgId, year, tonnes, outstanding);
        if (kind == AssetKind.Credit) {
            uint256 cap = (acct.obligation * creditCapBps) / MAX_BPS;
            uint256 remainingCap = cap > acct.creditsSurrendered ? cap - acct.creditsSurrendered : 0;
            if (tonnes > remainingCap) revert CreditCapExceeded(orgId, year, tonnes, remainingCap);
            acct.creditsSurrendered += tonnes;
        } else {
            acct.allowancesSurrendered += tonnes;
        }
        emit SurrenderRecorded(orgId, year, kind, msg.sender, tonnes);
    }

    // ------------------------------------------------------------------ views

    /// @inheritdoc IComplianceLedger
    function complianceStatus(uint64 orgId, uint16 year)
        external
        view
        returns (
            uint256 obligation,
            uint256 allowancesSurrendered,
            uint256 creditsSurrendered,
            uint256 shortfall,
            bool finalized
        )
    {
        Account storage acct = _accounts[orgId][year];
        return (acct.obligation, acct.allowancesSurrendered, acct.creditsSurrendered, _shortfall(acct), acct.finalized);
    }

    /// @inheritdoc IComplianceLedger
    function complianceWindowOpen(uint16 year) external view returns (bool) {
        return _windowOpen[year];
    }

    function _shortfall(Account storage acct) private view returns (uint256) {
        uint256 covered = acct.allowancesSurrendered + acct.creditsSurrendered;
        return covered >= acct.obligation ? 0 : acct.obligation - covered;
    }
}
