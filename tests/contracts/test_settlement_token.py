"""SettlementToken: a permissioned two-decimal deposit token, minted and burned only by the
settlement bank and held only by active, unfrozen members and the market escrow."""

from __future__ import annotations

from eth_utils import keccak

from tests.support.cast import ROLES
from tests.support.credits import CNY, cash, fund
from tests.support.ledger import Ledger
from tests.support.reverts import reverts

REASON = keccak(text="court order 2025-17")
BANK_ROLE = ROLES["SETTLEMENT_BANK"]


def event_total(ledger: Ledger, event: str) -> int:
    """Sum of the `amount` of every `Minted` or `Burned` event so far: the chain keeps no counters."""
    logs = getattr(ledger.contract("SettlementToken").events, event)().get_logs(from_block=0)
    return sum(int(log["args"]["amount"]) for log in logs)


def total_supply(ledger: Ledger) -> int:
    return int(ledger.call("SettlementToken", "totalSupply"))


def test_token_metadata(ledger: Ledger) -> None:
    assert ledger.call("SettlementToken", "name") == "Settlement CNY"
    assert ledger.call("SettlementToken", "symbol") == "sCNY"
    assert ledger.call("SettlementToken", "decimals") == 2


def test_the_bank_mints_against_a_deposit(ledger: Ledger) -> None:
    receipt = ledger.tx("bank", "SettlementToken", "mint", ledger.address("trader"), 1_000 * CNY)

    assert ledger.events(receipt, "SettlementToken", "Minted") == [
        {"bank": ledger.address("bank"), "to": ledger.address("trader"), "amount": 1_000 * CNY}
    ]
    assert ledger.events(receipt, "SettlementToken", "Transfer") == [
        {"from": "0x" + "00" * 20, "to": ledger.address("trader"), "value": 1_000 * CNY}
    ]
    assert cash(ledger, "trader") == 1_000 * CNY
    assert total_supply(ledger) == 1_000 * CNY
    assert event_total(ledger, "Minted") == 1_000 * CNY


def test_mint_by_a_non_bank_is_refused(ledger: Ledger) -> None:
    with reverts("MissingRole", ledger.address("trader"), BANK_ROLE):
        ledger.tx("trader", "SettlementToken", "mint", ledger.address("trader"), 1)
    with reverts("MissingRole", ledger.address("regulator"), BANK_ROLE):
        ledger.tx("regulator", "SettlementToken", "mint", ledger.address("trader"), 1)
    with reverts("MissingRole", ledger.address("stranger"), BANK_ROLE):
        ledger.tx("stranger", "SettlementToken", "mint", ledger.address("stranger"), 1)


def test_a_suspended_bank_cannot_mint(ledger: Ledger) -> None:
    ledger.tx("regulator", "Membership", "suspend", ledger.address("bank"), REASON)
    with reverts("MissingRole", ledger.address("bank"), BANK_ROLE):
        fund(ledger, "trader", 1)


def test_a_frozen_bank_cannot_mint(ledger: Ledger) -> None:
    ledger.tx("regulator", "Membership", "freeze", ledger.address("bank"), REASON)
    with reverts("AccountCannotTransact", ledger.address("bank")):
        fund(ledger, "trader", 1)


def test_minting_to_a_non_member_or_nothing_is_refused(ledger: Ledger) -> None:
    with reverts("AccountCannotTransact", ledger.address("stranger")):
        fund(ledger, "stranger", 1)
    with reverts("ZeroAmount"):
        fund(ledger, "trader", 0)


def test_members_pay_each_other(ledger: Ledger) -> None:
    fund(ledger, "trader", 500 * CNY)
    ledger.tx("trader", "SettlementToken", "transfer", ledger.address("enterprise_a"), 120 * CNY)
    assert (cash(ledger, "trader"), cash(ledger, "enterprise_a")) == (380 * CNY, 120 * CNY)


def test_payments_to_non_members_are_refused(ledger: Ledger) -> None:
    fund(ledger, "trader", 500 * CNY)
    with reverts("AccountCannotTransact", ledger.address("stranger")):
        ledger.tx("trader", "SettlementToken", "transfer", ledger.address("stranger"), 1)


def test_a_frozen_account_cannot_pay_or_be_paid(ledger: Ledger) -> None:
    fund(ledger, "trader", 500 * CNY)
    fund(ledger, "trader2", 500 * CNY)
    ledger.tx("regulator", "Membership", "freeze", ledger.address("trader"), REASON)
    with reverts("AccountCannotTransact", ledger.address("trader")):
        ledger.tx("trader", "SettlementToken", "transfer", ledger.address("trader2"), 1)
    with reverts("AccountCannotTransact", ledger.address("trader")):
        ledger.tx("trader2", "SettlementToken", "transfer", ledger.address("trader"), 1)


def test_a_suspended_account_cannot_pay(ledger: Ledger) -> None:
    fund(ledger, "trader", 500 * CNY)
    ledger.tx("regulator", "Membership", "suspend", ledger.address("trader"), REASON)
    with reverts("AccountCannotTransact", ledger.address("trader")):
        ledger.tx("trader", "SettlementToken", "transfer", ledger.address("trader2"), 1)


def test_a_non_member_spender_cannot_move_funds(ledger: Ledger) -> None:
    fund(ledger, "trader", 500 * CNY)
    ledger.tx("trader", "SettlementToken", "approve", ledger.address("stranger"), 100 * CNY)
    with reverts("AccountCannotTransact", ledger.address("stranger")):
        ledger.tx("stranger", "SettlementToken", "transferFrom", ledger.address("trader"), ledger.address("trader2"),
                  1)


def test_a_member_spender_moves_approved_funds(ledger: Ledger) -> None:
    fund(ledger, "trader", 500 * CNY)
    ledger.tx("trader", "SettlementToken", "approve", ledger.address("trader2"), 100 * CNY)
    ledger.tx("trader2", "SettlementToken", "transferFrom", ledger.address("trader"), ledger.address("trader2"),
              100 * CNY)
    assert cash(ledger, "trader2") == 100 * CNY
    with reverts("ERC20InsufficientAllowance", ledger.address("trader2"), 0, 1):
        ledger.tx("trader2", "SettlementToken", "transferFrom", ledger.address("trader"),
                  ledger.address("trader2"), 1)


def test_the_bank_burns_its_own_balance_on_redemption(ledger: Ledger) -> None:
    fund(ledger, "trader", 500 * CNY)
    ledger.tx("trader", "SettlementToken", "transfer", ledger.address("bank"), 200 * CNY)

    receipt = ledger.tx("bank", "SettlementToken", "burn", 150 * CNY)

    assert ledger.events(receipt, "SettlementToken", "Burned") == [
        {"bank": ledger.address("bank"), "from": ledger.address("bank"), "amount": 150 * CNY}
    ]
    assert cash(ledger, "bank") == 50 * CNY
    assert event_total(ledger, "Burned") == 150 * CNY
    assert total_supply(ledger) == 350 * CNY


def test_the_bank_burns_from_an_approving_holder(ledger: Ledger) -> None:
    fund(ledger, "trader", 500 * CNY)
    ledger.tx("trader", "SettlementToken", "approve", ledger.address("bank"), 300 * CNY)
    receipt = ledger.tx("bank", "SettlementToken", "burnFrom", ledger.address("trader"), 300 * CNY)
    assert ledger.events(receipt, "SettlementToken", "Burned") == [
        {"bank": ledger.address("bank"), "from": ledger.address("trader"), "amount": 300 * CNY}
    ]
    assert cash(ledger, "trader") == 200 * CNY
    assert total_supply(ledger) == 200 * CNY


def test_burning_without_allowance_or_balance_is_refused(ledger: Ledger) -> None:
    fund(ledger, "trader", 500 * CNY)
    with reverts("ERC20InsufficientAllowance", ledger.address("bank"), 0, 1):
        ledger.tx("bank", "SettlementToken", "burnFrom", ledger.address("trader"), 1)
    with reverts("ERC20InsufficientBalance", ledger.address("bank"), 0, 1):
        ledger.tx("bank", "SettlementToken", "burn", 1)


def test_burn_by_a_non_bank_is_refused(ledger: Ledger) -> None:
    fund(ledger, "trader", 500 * CNY)
    with reverts("MissingRole", ledger.address("trader"), BANK_ROLE):
        ledger.tx("trader", "SettlementToken", "burn", 1)
    ledger.tx("trader", "SettlementToken", "approve", ledger.address("trader2"), 1)
    with reverts("MissingRole", ledger.address("trader2"), BANK_ROLE):
        ledger.tx("trader2", "SettlementToken", "burnFrom", ledger.address("trader"), 1)


def test_supply_is_minted_less_burned(ledger: Ledger) -> None:
    fund(ledger, "trader", 700 * CNY)
    fund(ledger, "bank", 300 * CNY)
    ledger.tx("bank", "SettlementToken", "burn", 120 * CNY)
    minted = event_total(ledger, "Minted")
    burned = event_total(ledger, "Burned")
    assert (minted, burned) == (1_000 * CNY, 120 * CNY)
    assert total_supply(ledger) == minted - burned
