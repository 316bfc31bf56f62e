"""CarbonMarket: escrowed listings of ERC-1155 carbon assets, delivery versus payment in the
settlement token, price limits around a reference price, and membership checks."""

from __future__ import annotations

from typing import Any

import pytest
from eth_utils import keccak

from tests.contracts.helpers import MARKET_REFERENCE_PRICE
from tests.support.cast import ROLES
from tests.support.credits import (
    CNY,
    approve_market,
    cash,
    credits,
    fund,
    now,
    travel,
    view_struct,
)
from tests.support.ledger import Ledger
from tests.support.reverts import reverts

REASON = keccak(text="exchange supervision notice")
REFERENCE = MARKET_REFERENCE_PRICE  # 60.00 CNY per tonne
OPEN, FILLED, CANCELLED, EXPIRED = 1, 2, 3, 4
DAY = 86_400
BLOCK = 100_000  # default block-trade threshold, tonnes


def list_order(
    ledger: Ledger, m: dict[str, Any], amount: int = 1_000, price: int = REFERENCE, seller: str = "enterprise_a",
    expiry: int | None = None,
) -> int:
    expiry = now(ledger) + DAY if expiry is None else expiry
    receipt = ledger.tx(seller, "CarbonMarket", "list", m["registry"], m["id"], amount, price, expiry)
    (event,) = ledger.events(receipt, "CarbonMarket", "OrderListed")
    return int(event["orderId"])


def order(ledger: Ledger, order_id: int) -> dict[str, Any]:
    return view_struct(ledger, "CarbonMarket", "order", order_id)


def escrowed(ledger: Ledger, m: dict[str, Any]) -> int:
    # Escrow is the market's own balance on the asset contract.
    return int(ledger.call("CreditRegistry", "balanceOf", m["address"], m["id"]))


# ---------------------------------------------------------------------- parameters


def test_the_credit_registry_is_enabled_for_trading_at_deployment(ledger: Ledger) -> None:
    assert ledger.call("CarbonMarket", "assetEnabled", ledger.contract("CreditRegistry").address) is True
    assert ledger.call("CarbonMarket", "settlementToken") == ledger.contract("SettlementToken").address
    assert ledger.call("CarbonMarket", "ordinaryBandBps") == 1_000
    assert ledger.call("CarbonMarket", "blockBandBps") == 3_000
    assert ledger.call("CarbonMarket", "blockTradeThreshold") == BLOCK


def test_regulator_enables_and_disables_asset_contracts(ledger: Ledger, market: dict[str, Any]) -> None:
    receipt = ledger.tx("regulator", "CarbonMarket", "setAssetEnabled", market["registry"], False)
    assert ledger.events(receipt, "CarbonMarket", "AssetEnabled") == [{"asset": market["registry"],
                                                                       "enabled": False}]
    with reverts("AssetNotEnabled", market["registry"]):
        list_order(ledger, market)


def test_only_erc1155_contracts_can_be_enabled(ledger: Ledger) -> None:
    token = ledger.contract("SettlementToken").address
    with reverts("NotERC1155", token):
        ledger.tx("regulator", "CarbonMarket", "setAssetEnabled", token, True)
    with reverts("NotERC1155", ledger.address("stranger")):
        ledger.tx("regulator", "CarbonMarket", "setAssetEnabled", ledger.address("stranger"), True)


def test_market_parameters_are_the_regulators(ledger: Ledger, market: dict[str, Any]) -> None:
    trader, role = ledger.address("trader"), ROLES["REGULATOR"]
    with reverts("MissingRole", trader, role):
        ledger.tx("trader", "CarbonMarket", "setAssetEnabled", market["registry"], True)
    with reverts("MissingRole", trader, role):
        ledger.tx("trader", "CarbonMarket", "setReferencePrice", market["registry"], market["id"], 1)
    with reverts("MissingRole", trader, role):
        ledger.tx("trader", "CarbonMarket", "setPriceBands", 500, 2_000)
    with reverts("MissingRole", trader, role):
        ledger.tx("trader", "CarbonMarket", "setBlockTradeThreshold", 50_000)


def test_regulator_sets_bands_and_block_threshold(ledger: Ledger, market: dict[str, Any]) -> None:
    receipt = ledger.tx("regulator", "CarbonMarket", "setPriceBands", 500, 2_000)
    assert ledger.events(receipt, "CarbonMarket", "PriceBandsSet") == [{"ordinaryBps": 500, "blockBps": 2_000}]
    receipt = ledger.tx("regulator", "CarbonMarket", "setBlockTradeThreshold", 50_000)
    assert ledger.events(receipt, "CarbonMarket", "BlockTradeThresholdSet") == [{"tonnes": 50_000}]

    assert list(ledger.call("CarbonMarket", "priceBand", market["registry"], market["id"], 49_999)) == [5_700, 6_300]
    assert list(ledger.call("CarbonMarket", "priceBand", market["registry"], market["id"], 50_000)) == [4_800, 7_200]


def test_invalid_bands_are_refused(ledger: Ledger) -> None:
    with reverts("InvalidBands", 3_000, 1_000):
        ledger.tx("regulator", "CarbonMarket", "setPriceBands", 3_000, 1_000)
    with reverts("InvalidBands", 1_000, 10_001):
        ledger.tx("regulator", "CarbonMarket", "setPriceBands", 1_000, 10_001)
    with reverts("ZeroAmount"):
        ledger.tx("regulator", "CarbonMarket", "setBlockTradeThreshold", 0)


def test_reference_price_is_recorded(ledger: Ledger, market: dict[str, Any]) -> None:
    receipt = ledger.tx("regulator", "CarbonMarket", "setReferencePrice", market["registry"], market["id"], 6_500)
    assert ledger.events(receipt, "CarbonMarket", "ReferencePriceSet") == [
        {"asset": market["registry"], "tokenId": market["id"], "price": 6_500}
    ]
    assert ledger.call("CarbonMarket", "referencePrice", market["registry"], market["id"]) == 6_500


def test_band_bounds_round_inwards(ledger: Ledger, market: dict[str, Any]) -> None:
    ledger.tx("regulator", "CarbonMarket", "setReferencePrice", market["registry"], market["id"], 101)
    # 101 * 0.9 = 90.9 -> 91; 101 * 1.1 = 111.1 -> 111; 101 * 0.7 = 70.7 -> 71; 101 * 1.3 = 131.3 -> 131
    assert list(ledger.call("CarbonMarket", "priceBand", market["registry"], market["id"], 1)) == [91, 111]
    assert list(ledger.call("CarbonMarket", "priceBand", market["registry"], market["id"], BLOCK)) == [71, 131]


# ---------------------------------------------------------------------- listing


def test_a_seller_lists_and_the_units_move_into_escrow(ledger: Ledger, market: dict[str, Any]) -> None:
    expiry = now(ledger) + DAY
    receipt = ledger.tx("enterprise_a", "CarbonMarket", "list", market["registry"], market["id"], 1_000, 6_100,
                        expiry)

    assert ledger.events(receipt, "CarbonMarket", "OrderListed") == [
        {"orderId": 1, "seller": ledger.address("enterprise_a"), "asset": market["registry"],
         "tokenId": market["id"], "amount": 1_000, "price": 6_100, "expiry": expiry}
    ]
    assert order(ledger, 1) == {
        "seller": ledger.address("enterprise_a"), "expiry": expiry, "status": OPEN, "asset": market["registry"],
        "tokenId": market["id"], "amount": 1_000, "remaining": 1_000, "price": 6_100,
    }
    assert credits(ledger, "enterprise_a", market["id"]) == 299_000
    assert ledger.call("CreditRegistry", "balanceOf", market["address"], market["id"]) == 1_000
    assert escrowed(ledger, market) == 1_000
    assert ledger.call("CarbonMarket", "orderCount") == 1


def test_listing_needs_a_reference_price(ledger: Ledger, market: dict[str, Any]) -> None:
    ledger.tx("regulator", "CarbonMarket", "setReferencePrice", market["registry"], market["id"], 0)
    with reverts("NoReferencePrice", market["registry"], market["id"]):
        list_order(ledger, market)


@pytest.mark.parametrize("price", [5_399, 6_601, 1, 10_000])
def test_ordinary_orders_must_lie_within_ten_percent(ledger: Ledger, market: dict[str, Any], price: int) -> None:
    with reverts("PriceOutOfBand", price, 5_400, 6_600):
        list_order(ledger, market, amount=BLOCK - 1, price=price)


@pytest.mark.parametrize("price", [5_400, 6_600])
def test_ordinary_band_bounds_are_inclusive(ledger: Ledger, market: dict[str, Any], price: int) -> None:
    assert order(ledger, list_order(ledger, market, price=price))["price"] == price


def test_block_orders_may_lie_within_thirty_percent(ledger: Ledger, market: dict[str, Any]) -> None:
    low = list_order(ledger, market, amount=BLOCK, price=4_200)
    high = list_order(ledger, market, amount=BLOCK, price=7_800)
    assert (order(ledger, low)["price"], order(ledger, high)["price"]) == (4_200, 7_800)


@pytest.mark.parametrize("price", [4_199, 7_801])
def test_block_orders_outside_thirty_percent_are_refused(ledger: Ledger, market: dict[str, Any], price: int) -> None:
    with reverts("PriceOutOfBand", price, 4_200, 7_800):
        list_order(ledger, market, amount=BLOCK, price=price)


def test_listing_needs_the_markets_approval(ledger: Ledger, market: dict[str, Any]) -> None:
    ledger.tx("enterprise_a", "CreditRegistry", "setApprovalForAll", market["address"], False)
    with reverts("ERC1155MissingApprovalForAll", market["address"], ledger.address("enterprise_a")):
        list_order(ledger, market)


def test_listing_more_than_held_is_refused(ledger: Ledger, market: dict[str, Any]) -> None:
    with reverts("ERC1155InsufficientBalance", ledger.address("enterprise_a"), 300_000, 300_001, market["id"]):
        list_order(ledger, market, amount=300_001, price=REFERENCE)


def test_listing_refuses_nothing_free_and_expired_orders(ledger: Ledger, market: dict[str, Any]) -> None:
    with reverts("ZeroAmount"):
        list_order(ledger, market, amount=0)
    with reverts("ZeroPrice"):
        list_order(ledger, market, price=0)
    past = now(ledger) - 1
    with reverts("ExpiryInPast", expiry=past):
        list_order(ledger, market, expiry=past)


def test_a_non_member_cannot_list(ledger: Ledger, market: dict[str, Any]) -> None:
    with reverts("AccountCannotTransact", ledger.address("stranger")):
        list_order(ledger, market, seller="stranger")


@pytest.mark.parametrize("action", ["freeze", "suspend"])
def test_a_frozen_or_suspended_member_cannot_list(ledger: Ledger, market: dict[str, Any], action: str) -> None:
    ledger.tx("regulator", "Membership", action, ledger.address("enterprise_a"), REASON)
    with reverts("AccountCannotTransact", ledger.address("enterprise_a")):
        list_order(ledger, market)


def test_units_sent_to_the_market_outside_a_listing_are_refused(ledger: Ledger, market: dict[str, Any]) -> None:
    with reverts("UnsolicitedTransfer", ledger.address("enterprise_a")):
        ledger.tx("enterprise_a", "CreditRegistry", "safeTransferFrom", ledger.address("enterprise_a"),
                  market["address"], market["id"], 1, b"")


# ---------------------------------------------------------------------- filling


def test_a_buyer_fills_an_order_delivery_versus_payment(ledger: Ledger, market: dict[str, Any]) -> None:
    order_id = list_order(ledger, market, amount=1_000, price=6_100)
    trader_cash = cash(ledger, "trader")

    receipt = ledger.tx("trader", "CarbonMarket", "fill", order_id, 1_000)

    assert ledger.events(receipt, "CarbonMarket", "OrderFilled") == [
        {"orderId": order_id, "seller": ledger.address("enterprise_a"), "buyer": ledger.address("trader"),
         "asset": market["registry"], "tokenId": market["id"], "amount": 1_000, "price": 6_100,
         "payment": 6_100_000, "remaining": 0}
    ]
    assert cash(ledger, "trader") == trader_cash - 6_100_000
    assert cash(ledger, "enterprise_a") == 6_100_000
    assert credits(ledger, "trader", market["id"]) == 1_000
    assert escrowed(ledger, market) == 0
    assert ledger.call("CreditRegistry", "balanceOf", market["address"], market["id"]) == 0
    assert order(ledger, order_id)["status"] == FILLED


def test_partial_fills_leave_the_rest_in_escrow(ledger: Ledger, market: dict[str, Any]) -> None:
    order_id = list_order(ledger, market, amount=1_000)
    ledger.tx("trader", "CarbonMarket", "fill", order_id, 300)
    receipt = ledger.tx("trader2", "CarbonMarket", "fill", order_id, 200)

    (event,) = ledger.events(receipt, "CarbonMarket", "OrderFilled")
    assert (event["buyer"], event["amount"], event["payment"], event["remaining"]) == (
        ledger.address("trader2"), 200, 200 * REFERENCE, 500)
    state = order(ledger, order_id)
    assert (state["status"], state["amount"], state["remaining"]) == (OPEN, 1_000, 500)
    assert (credits(ledger, "trader", market["id"]), credits(ledger, "trader2", market["id"])) == (300, 200)
    assert escrowed(ledger, market) == 500
    assert cash(ledger, "enterprise_a") == 500 * REFERENCE


def test_fills_beyond_the_order_are_refused(ledger: Ledger, market: dict[str, Any]) -> None:
    order_id = list_order(ledger, market, amount=1_000)
    ledger.tx("trader", "CarbonMarket", "fill", order_id, 700)
    with reverts("FillExceedsRemaining", order_id, 301, 300):
        ledger.tx("trader2", "CarbonMarket", "fill", order_id, 301)
    ledger.tx("trader2", "CarbonMarket", "fill", order_id, 300)
    with reverts("OrderNotOpen", order_id, FILLED):
        ledger.tx("trader2", "CarbonMarket", "fill", order_id, 1)


def test_a_seller_cannot_fill_its_own_order(ledger: Ledger, market: dict[str, Any]) -> None:
    order_id = list_order(ledger, market)
    with reverts("SelfFill", order_id):
        ledger.tx("enterprise_a", "CarbonMarket", "fill", order_id, 1)


def test_fill_refuses_nothing_and_unknown_orders(ledger: Ledger, market: dict[str, Any]) -> None:
    order_id = list_order(ledger, market)
    with reverts("ZeroAmount"):
        ledger.tx("trader", "CarbonMarket", "fill", order_id, 0)
    with reverts("UnknownOrder", 99):
        ledger.tx("trader", "CarbonMarket", "fill", 99, 1)


def test_a_fill_after_expiry_is_refused(ledger: Ledger, market: dict[str, Any]) -> None:
    expiry = now(ledger) + DAY
    order_id = list_order(ledger, market, expiry=expiry)
    travel(ledger, DAY + 1)
    with reverts("OrderExpired", order_id, expiry):
        ledger.tx("trader", "CarbonMarket", "fill", order_id, 1)


def test_payment_failure_leaves_the_units_in_escrow(ledger: Ledger, market: dict[str, Any]) -> None:
    order_id = list_order(ledger, market, amount=1_000)
    approve_market(ledger, "enterprise_b")
    fund(ledger, "enterprise_b", 100 * REFERENCE)
    with reverts("ERC20InsufficientBalance", ledger.address("enterprise_b"), 100 * REFERENCE, 101 * REFERENCE):
        ledger.tx("enterprise_b", "CarbonMarket", "fill", order_id, 101)
    assert credits(ledger, "enterprise_b", market["id"]) == 0
    assert escrowed(ledger, market) == 1_000
    assert order(ledger, order_id)["remaining"] == 1_000


def test_a_fill_needs_the_buyers_payment_approval(ledger: Ledger, market: dict[str, Any]) -> None:
    order_id = list_order(ledger, market)
    ledger.tx("trader", "SettlementToken", "approve", market["address"], 0)
    with reverts("ERC20InsufficientAllowance", market["address"], 0, REFERENCE):
        ledger.tx("trader", "CarbonMarket", "fill", order_id, 1)


def test_a_non_member_cannot_fill(ledger: Ledger, market: dict[str, Any]) -> None:
    order_id = list_order(ledger, market)
    with reverts("AccountCannotTransact", ledger.address("stranger")):
        ledger.tx("stranger", "CarbonMarket", "fill", order_id, 1)


@pytest.mark.parametrize("action", ["freeze", "suspend"])
def test_a_frozen_or_suspended_buyer_cannot_fill(ledger: Ledger, market: dict[str, Any], action: str) -> None:
    order_id = list_order(ledger, market)
    ledger.tx("regulator", "Membership", action, ledger.address("trader"), REASON)
    with reverts("AccountCannotTransact", ledger.address("trader")):
        ledger.tx("trader", "CarbonMarket", "fill", order_id, 1)


@pytest.mark.parametrize("action", ["freeze", "suspend"])
def test_orders_of_a_frozen_or_suspended_seller_cannot_be_filled(
    ledger: Ledger, market: dict[str, Any], action: str
) -> None:
    order_id = list_order(ledger, market)
    ledger.tx("regulator", "Membership", action, ledger.address("enterprise_a"), REASON)
    with reverts("AccountCannotTransact", ledger.address("enterprise_a")):
        ledger.tx("trader", "CarbonMarket", "fill", order_id, 1)


def test_fills_stop_when_the_asset_is_disabled(ledger: Ledger, market: dict[str, Any]) -> None:
    order_id = list_order(ledger, market)
    ledger.tx("regulator", "CarbonMarket", "setAssetEnabled", market["registry"], False)
    with reverts("AssetNotEnabled", market["registry"]):
        ledger.tx("trader", "CarbonMarket", "fill", order_id, 1)


def test_fills_are_checked_against_the_current_reference_price(ledger: Ledger, market: dict[str, Any]) -> None:
    order_id = list_order(ledger, market, price=6_600)
    ledger.tx("regulator", "CarbonMarket", "setReferencePrice", market["registry"], market["id"], 5_000)
    with reverts("PriceOutOfBand", 6_600, 4_500, 5_500):
        ledger.tx("trader", "CarbonMarket", "fill", order_id, 1)


def test_a_block_trade_fills_at_a_block_price(ledger: Ledger, market: dict[str, Any]) -> None:
    order_id = list_order(ledger, market, amount=200_000, price=7_500)
    receipt = ledger.tx("trader", "CarbonMarket", "fill", order_id, BLOCK)
    (event,) = ledger.events(receipt, "CarbonMarket", "OrderFilled")
    assert (event["amount"], event["payment"], event["remaining"]) == (BLOCK, BLOCK * 7_500, 100_000)


def test_a_small_fill_of_a_block_order_must_meet_the_ordinary_band(ledger: Ledger, market: dict[str, Any]) -> None:
    order_id = list_order(ledger, market, amount=200_000, price=7_500)
    with reverts("PriceOutOfBand", 7_500, 5_400, 6_600):
        ledger.tx("trader", "CarbonMarket", "fill", order_id, BLOCK - 1)


def test_a_small_fill_of_a_block_order_within_the_ordinary_band_succeeds(
    ledger: Ledger, market: dict[str, Any]
) -> None:
    order_id = list_order(ledger, market, amount=200_000, price=6_000)
    ledger.tx("trader", "CarbonMarket", "fill", order_id, 10)
    assert credits(ledger, "trader", market["id"]) == 10


# ---------------------------------------------------------------------- cancelling and expiry


def test_the_seller_cancels_and_gets_the_rest_back(ledger: Ledger, market: dict[str, Any]) -> None:
    order_id = list_order(ledger, market, amount=1_000)
    ledger.tx("trader", "CarbonMarket", "fill", order_id, 400)

    receipt = ledger.tx("enterprise_a", "CarbonMarket", "cancel", order_id)

    assert ledger.events(receipt, "CarbonMarket", "OrderCancelled") == [
        {"orderId": order_id, "seller": ledger.address("enterprise_a"), "returned": 600}
    ]
    assert credits(ledger, "enterprise_a", market["id"]) == 300_000 - 400
    assert escrowed(ledger, market) == 0
    state = order(ledger, order_id)
    assert (state["status"], state["remaining"]) == (CANCELLED, 0)
    with reverts("OrderNotOpen", order_id, CANCELLED):
        ledger.tx("trader", "CarbonMarket", "fill", order_id, 1)
    with reverts("OrderNotOpen", order_id, CANCELLED):
        ledger.tx("enterprise_a", "CarbonMarket", "cancel", order_id)


@pytest.mark.parametrize("actor", ["stranger", "trader", "regulator"])
def test_only_the_seller_cancels(ledger: Ledger, market: dict[str, Any], actor: str) -> None:
    order_id = list_order(ledger, market)
    with reverts("NotOrderSeller", order_id, ledger.address(actor)):
        ledger.tx(actor, "CarbonMarket", "cancel", order_id)


def test_anyone_returns_an_expired_orders_escrow_to_the_seller(ledger: Ledger, market: dict[str, Any]) -> None:
    expiry = now(ledger) + DAY
    order_id = list_order(ledger, market, amount=1_000, expiry=expiry)
    ledger.tx("trader", "CarbonMarket", "fill", order_id, 100)
    with reverts("OrderNotExpired", order_id, expiry):
        ledger.tx("stranger", "CarbonMarket", "reclaimExpired", order_id)
    travel(ledger, DAY + 1)

    receipt = ledger.tx("stranger", "CarbonMarket", "reclaimExpired", order_id)

    assert ledger.events(receipt, "CarbonMarket", "OrderExpiredReclaimed") == [
        {"orderId": order_id, "seller": ledger.address("enterprise_a"), "caller": ledger.address("stranger"),
         "returned": 900}
    ]
    assert credits(ledger, "enterprise_a", market["id"]) == 300_000 - 100
    assert escrowed(ledger, market) == 0
    assert order(ledger, order_id)["status"] == EXPIRED
    with reverts("OrderNotOpen", order_id, EXPIRED):
        ledger.tx("stranger", "CarbonMarket", "reclaimExpired", order_id)


def test_allowances_trade_on_the_market_with_delivery_versus_payment(ledger: Ledger) -> None:
    """Allowances (ERC-1155, id = year) are enabled at deployment like credits."""
    allowances = ledger.contract("AllowanceRegistry").address
    assert ledger.call("CarbonMarket", "assetEnabled", allowances) is True
    ledger.tx("regulator", "AllowanceRegistry", "allocate", 2025, [ledger.address("enterprise_a")], [5_000])
    ledger.tx("regulator", "CarbonMarket", "setReferencePrice", allowances, 2025, REFERENCE)
    ledger.tx("enterprise_a", "AllowanceRegistry", "setApprovalForAll", ledger.contract("CarbonMarket").address, True)
    approve_market(ledger, "enterprise_b")
    fund(ledger, "enterprise_b", 1_000_000 * CNY)
    receipt = ledger.tx("enterprise_a", "CarbonMarket", "list", allowances, 2025, 2_000, REFERENCE, now(ledger) + DAY)
    (listed,) = ledger.events(receipt, "CarbonMarket", "OrderListed")
    assert ledger.call("AllowanceRegistry", "balanceOf", ledger.contract("CarbonMarket").address, 2025) == 2_000

    receipt = ledger.tx("enterprise_b", "CarbonMarket", "fill", listed["orderId"], 1_500)
    (filled,) = ledger.events(receipt, "CarbonMarket", "OrderFilled")
    assert filled["payment"] == 1_500 * REFERENCE
    assert ledger.call("AllowanceRegistry", "balanceOf", ledger.address("enterprise_b"), 2025) == 1_500
    assert ledger.call("AllowanceRegistry", "balanceOf", ledger.address("enterprise_a"), 2025) == 3_000
    assert cash(ledger, "enterprise_a") == 1_500 * REFERENCE


def test_an_order_larger_than_its_packed_slot_is_refused(ledger: Ledger, market: dict[str, Any]) -> None:
    # Amount and remaining share a slot with the asset (48 bits each); no holder can own that much anyway.
    with reverts("SafeCastOverflowedUintDowncast", 48, 2**48):
        list_order(ledger, market, amount=2**48)


def test_an_expiry_beyond_its_packed_slot_is_refused(ledger: Ledger, market: dict[str, Any]) -> None:
    # The expiry is kept in 40 bits (seconds up to the year 36812).
    with reverts("SafeCastOverflowedUintDowncast", 40, 2**40):
        list_order(ledger, market, expiry=2**40)
    order_id = list_order(ledger, market, expiry=2**40 - 1)
    assert order(ledger, order_id)["expiry"] == 2**40 - 1
