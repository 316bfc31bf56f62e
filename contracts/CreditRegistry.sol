// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IMembership} from "./interfaces/IMembership.sol";
import {IComplianceLedger} from "./interfaces/IComplianceLedger.sol";
import {MembershipGated} from "./base/MembershipGated.sol";

/// @title CreditRegistry (skeleton: to be completed)
contract CreditRegistry is MembershipGated {
    constructor(IMembership membership_, IComplianceLedger compliance_) MembershipGated(membership_) {}
}
