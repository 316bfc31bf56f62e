// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {CarbonMarket} from "../CarbonMarket.sol";
import {IMembership} from "../interfaces/IMembership.sol";
import {IUpgrades} from "../interfaces/IUpgrades.sol";

/// @title CarbonMarketV2
/// @notice A changed market for the upgrade tests: the same market, answering its version and the
/// units still open on an order (a small feature the first version lacks).
contract CarbonMarketV2 is CarbonMarket {
    constructor(IMembership membership_, address settlementToken_, IUpgrades upgrades_)
        CarbonMarket(membership_, settlementToken_, upgrades_)
    {}

    /// @notice The version of this market.
    function version() external pure returns (uint32) {
        return 2;
    }

    /// @notice Units still open on an order (0 unless it is open).
    /// @param orderId The order.
    function openUnits(uint256 orderId) external view returns (uint256) {
        OrderInfo memory o = this.order(orderId);
        return o.status == OrderStatus.Open ? o.remaining : 0;
    }
}
