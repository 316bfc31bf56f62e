// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {IMembership} from "./interfaces/IMembership.sol";
import {MembershipGated} from "./base/MembershipGated.sol";
import {Errors} from "./lib/Errors.sol";
import {Roles} from "./base/Roles.sol";

/// @title SettlementToken
/// @notice A permissioned ERC-20 settlement asset (e.g. a tokenised CNY deposit, 2 decimals:
/// one unit is one fen). Only an active, unfrozen SETTLEMENT_BANK member mints (against
/// deposits) and burns (on redemption). Balances are held and moved only by active, unfrozen
/// members and escrow agents of the suite (the market).
contract SettlementToken is ERC20, MembershipGated {
    event Minted(address indexed bank, address indexed to, uint256 amount);
    event Burned(address indexed bank, address indexed from, uint256 amount);

    constructor(IMembership membership_, string memory name_, string memory symbol_)
        ERC20(name_, symbol_)
        MembershipGated(membership_)
    {}

    /// @notice Two decimals: amounts are in fen (0.01 CNY).
    function decimals() public pure override returns (uint8) {
        return 2;
    }

    /// @notice Mint settlement tokens against a deposit.
    /// @param to The depositor (an account that may hold).
    /// @param amount Amount in token units.
    function mint(address to, uint256 amount) external onlyActiveRole(Roles.SETTLEMENT_BANK) {
        _requireCanTransact(msg.sender);
        if (amount == 0) revert Errors.ZeroAmount(to, 0);
        _mint(to, amount);
        emit Minted(msg.sender, to, amount);
    }

    /// @notice Burn tokens from the bank's own balance (a redemption paid out off-chain).
    /// @param amount Amount in token units.
    function burn(uint256 amount) external onlyActiveRole(Roles.SETTLEMENT_BANK) {
        _requireCanTransact(msg.sender);
        _burnUnits(msg.sender, amount);
    }

    /// @notice Burn tokens from a holder that approved the bank for at least `amount`.
    /// @param from The holder redeeming.
    /// @param amount Amount in token units.
    function burnFrom(address from, uint256 amount) external onlyActiveRole(Roles.SETTLEMENT_BANK) {
        _requireCanTransact(msg.sender);
        _spendAllowance(from, msg.sender, amount);
        _burnUnits(from, amount);
    }

    /// @notice ERC-20 `transferFrom`; the spender, too, must be allowed to hold.
    /// @param from The holder.
    /// @param to The receiver.
    /// @param value Amount in token units.
    function transferFrom(address from, address to, uint256 value) public override returns (bool) {
        _requireCanHold(_msgSender());
        return super.transferFrom(from, to, value);
    }

    /// @dev Every balance change: the account debited and the account credited must be
    /// active unfrozen members or escrow agents.
    function _update(address from, address to, uint256 value) internal override {
        if (from != address(0)) _requireCanHold(from);
        if (to != address(0)) _requireCanHold(to);
        super._update(from, to, value);
    }

    function _burnUnits(address from, uint256 amount) private {
        if (amount == 0) revert Errors.ZeroAmount(from, 0);
        _burn(from, amount);
        emit Burned(msg.sender, from, amount);
    }
}
