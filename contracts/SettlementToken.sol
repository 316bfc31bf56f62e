// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IMembership} from "./interfaces/IMembership.sol";
import {IComplianceLedger} from "./interfaces/IComplianceLedger.sol";
import {MembershipGated} from "./base/MembershipGated.sol";

/// @title SettlementToken (skeleton: to be completed)
contract SettlementToken is MembershipGated {
    constructor(IMembership membership_, string memory name_, string memory symbol_) MembershipGated(membership_) {}
}
