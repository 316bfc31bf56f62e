// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @notice Anchored electricity production (measure 1) of generation meters, as MeterAnchor records it.
interface IProductionAnchors {
    /// @notice The enterprise, window and anchored production (Wh) of a production anchor.
    /// @dev Reverts `NotProductionAnchor(anchorId)` for an unknown anchor or an emissions anchor.
    function productionOf(uint256 anchorId)
        external
        view
        returns (uint64 enterpriseOrgId, uint64 windowStart, uint64 windowEnd, uint64 wh);
}
