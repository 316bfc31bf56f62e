"""CarbonMarket: a regulator recovers the escrow of a seller that can no longer transact (to an
account of the seller's organisation) or cancels an order's escrowed credits, each with an event
and the hash of its reason."""

from __future__ import annotations

from typing import Any

import pytest
from eth_utils import keccak

from tests.contracts.test_market import CANCELLED, escrowed, list_order, order
from tests.support.cast import ROLES
from tests.support.credits import credits
from tests.support.ledger import Ledger
from tests.support.reverts import reverts

DECISION = keccak(text="regulator decision 2025-17: seller revoked, escrow returned")
INVALIDATED = keccak(text="regulator decision 2025-18: credits invalidated")


@pytest.mark.parametrize("action", ["revoke", "suspend", "freeze"])
def test_a_regulator_returns_a_stuck_sellers_escrow_to_its_organisation(
    ledger: Ledger, market: dict[str, Any], action: str
) -> None:
    order_id = list_order(ledger, market, amount=1_000)
    ledger.tx("trader", "CarbonMarket", "fill", order_id, 400)
    seller = ledger.address("enterprise_a")
    ledger.tx("regulator", "Membership", action, seller, DECISION)

    recipient = ledger.address("enterprise_a2")
    receipt = ledger.tx("regulator", "CarbonMarket", "recoverEscrow", order_id, recipient, DECISION)

    assert ledger.events(receipt, "CarbonMarket", "EscrowRecovered") == [
        {"orderId": order_id, "seller": seller, "recipient": recipient, "regulator": ledger.address("regulator"),
         "returned": 600, "reasonHash": DECISION}
    ]
    assert credits(ledger, "enterprise_a2", market["id"]) == 600
    assert escrowed(ledger, market) == 0
    state = order(ledger, order_id)
    assert (state["status"], state["remaining"]) == (CANCELLED, 0)
    with reverts("OrderNotOpen", order_id, CANCELLED):
        ledger.tx("regulator", "CarbonMarket", "recoverEscrow", order_id, recipient, DECISION)


def test_escrow_is_not_recovered_while_the_seller_can_act_itself(ledger: Ledger, market: dict[str, Any]) -> None:
    order_id = list_order(ledger, market)
    with reverts("SellerCanTransact", order_id, ledger.address("enterprise_a")):
        ledger.tx("regulator", "CarbonMarket", "recoverEscrow", order_id, ledger.address("enterprise_a2"), DECISION)


def test_recovered_escrow_goes_only_to_the_sellers_organisation(ledger: Ledger, market: dict[str, Any]) -> None:
    order_id = list_order(ledger, market)
    ledger.tx("regulator", "Membership", "revoke", ledger.address("enterprise_a"), DECISION)
    with reverts("RecipientOutsideSellerOrganisation", ledger.address("trader"), 30, 11):
        ledger.tx("regulator", "CarbonMarket", "recoverEscrow", order_id, ledger.address("trader"), DECISION)
    assert escrowed(ledger, market) == 1_000


@pytest.mark.parametrize("function", ["recoverEscrow", "cancelEscrowedCredits"])
def test_only_a_regulator_recovers_or_cancels_escrow(ledger: Ledger, market: dict[str, Any], function: str) -> None:
    order_id = list_order(ledger, market)
    args = [order_id, DECISION]
    if function == "recoverEscrow":
        args.insert(1, ledger.address("enterprise_a2"))
    with reverts("MissingRole", ledger.address("trader"), ROLES["REGULATOR"]):
        ledger.tx("trader", "CarbonMarket", function, *args)


def test_a_regulator_cancels_an_orders_escrowed_credits(ledger: Ledger, market: dict[str, Any]) -> None:
    order_id = list_order(ledger, market, amount=1_000)
    batch = ledger.call("CreditRegistry", "batch", market["id"])
    next_serial, cancelled_before = batch[9], batch[11]

    receipt = ledger.tx("regulator", "CarbonMarket", "cancelEscrowedCredits", order_id, INVALIDATED)

    assert ledger.events(receipt, "CarbonMarket", "EscrowCancelled") == [
        {"orderId": order_id, "seller": ledger.address("enterprise_a"), "regulator": ledger.address("regulator"),
         "returned": 1_000, "reasonHash": INVALIDATED}
    ]
    assert ledger.events(receipt, "CreditRegistry", "CreditsCancelled") == [
        {"batchId": market["id"], "holder": market["address"], "amount": 1_000, "serialStart": next_serial,
         "serialEnd": next_serial + 999, "reasonHash": INVALIDATED}
    ]
    assert escrowed(ledger, market) == 0
    assert ledger.call("CreditRegistry", "batch", market["id"])[11] == cancelled_before + 1_000
    assert order(ledger, order_id)["status"] == CANCELLED


def test_only_an_escrow_agent_cancels_from_escrow(ledger: Ledger, market: dict[str, Any]) -> None:
    with reverts("NotEscrowAgent", ledger.address("enterprise_a")):
        ledger.tx("enterprise_a", "CreditRegistry", "cancelEscrowed", market["id"], 1, INVALIDATED)

