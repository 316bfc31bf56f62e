// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IProductionAnchors} from "../interfaces/IProductionAnchors.sol";

/// @title ProductionAnchorsMock
/// @notice Test stand-in for MeterAnchor's production anchors: anyone records an anchor's
/// enterprise, window and Wh; unknown ids revert as MeterAnchor's do.
contract ProductionAnchorsMock is IProductionAnchors {
    struct Production {
        uint64 enterpriseOrgId;
        uint64 windowStart;
        uint64 windowEnd;
        uint64 wh;
    }

    mapping(uint256 anchorId => Production) private _production;

    error NotProductionAnchor(uint256 anchorId);

    /// @notice Record (or replace) a production anchor.
    function setProduction(uint256 anchorId, uint64 enterpriseOrgId, uint64 windowStart, uint64 windowEnd, uint64 wh)
        external
    {
        _production[anchorId] = Production(enterpriseOrgId, windowStart, windowEnd, wh);
    }

    /// @inheritdoc IProductionAnchors
    function productionOf(uint256 anchorId)
        external
        view
        returns (uint64 enterpriseOrgId, uint64 windowStart, uint64 windowEnd, uint64 wh)
    {
        Production memory p = _production[anchorId];
        if (p.windowEnd == 0) revert NotProductionAnchor(anchorId);
        return (p.enterpriseOrgId, p.windowStart, p.windowEnd, p.wh);
    }
}
