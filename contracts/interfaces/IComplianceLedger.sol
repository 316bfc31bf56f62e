// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @title IComplianceLedger
/// @notice The compliance account of each enterprise (organisation) and compliance year:
/// the obligation set when verified emissions are finalized, and what was surrendered
/// against it, allowances and offset credits counted separately.
interface IComplianceLedger {
    enum AssetKind {
        None,
        Allowance,
        Credit
    }

    /// @notice Set an enterprise's obligation for a year (called by the EmissionRegistry on finalization).
    /// @param orgId Enterprise organisation id.
    /// @param year Compliance year.
    /// @param tonnes Finalized verified emissions in whole tCO2e.
    function setObligation(uint64 orgId, uint16 year, uint256 tonnes) external;

    /// @notice Record units surrendered towards an obligation (called by an asset registry
    /// after it has burned or locked the units). Refused when the year's window is closed,
    /// when it exceeds what is outstanding, or, for credits, beyond the offset cap.
    /// @param orgId Enterprise organisation id.
    /// @param year Compliance year the units count towards.
    /// @param tonnes Amount in tCO2e.
    function recordSurrender(uint64 orgId, uint16 year, uint256 tonnes) external;

    /// @notice Obligation, surrendered amounts and shortfall of an enterprise for a year.
    function complianceStatus(uint64 orgId, uint16 year)
        external
        view
        returns (
            uint256 obligation,
            uint256 allowancesSurrendered,
            uint256 creditsSurrendered,
            uint256 shortfall,
            bool finalized
        );

    /// @notice True while the regulator keeps the year's compliance window open.
    function complianceWindowOpen(uint16 year) external view returns (bool);
}
