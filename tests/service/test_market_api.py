"""The market through the API: listing with transparent approvals, fills settled against payment, price
bands, expiry, cancellation, the order book, trade history and daily closes; the settlement bank."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import httpx
import pytest
from fastapi.testclient import TestClient

from ledger_service.runtime import Runtime
from tests.service.cast import Cast
from tests.service.credit_steps import admit_bank, chain_now, credit_balance, mint, travel, verified_batch
from tests.service.helpers import V1, sanction
from tests.service.test_transactions_api import relay, signed_call
from tests.support.wallet import sign_as_wallet

DAY = 86_400


@pytest.fixture
def market(client: TestClient, cast: Cast, runtime: Runtime) -> int:
    """Batch 1 (1,000 t) held by enterprise_a, reference price 50.00; the trader holds CNY 100,000.00."""
    verified_batch(client, cast)
    reply = client.post(f"{V1}/market/reference-prices", headers=cast.auth("regulator"),
                        json={"asset": "credit", "token_id": 1, "price": "50.00"})
    assert reply.status_code == 200, reply.text
    admit_bank(runtime, cast)
    mint(client, cast, "trader", "100000.00")
    return 1


def list_credits(client: TestClient, cast: Cast, runtime: Runtime, amount: int = 300, price: str = "50.00",
                 seller: str = "enterprise_a", expires_in: int = DAY):
    return client.post(f"{V1}/market/orders", headers=cast.auth(seller), json={
        "asset": "credit", "token_id": 1, "amount": amount, "price": price,
        "expiry": chain_now(runtime) + expires_in})


def fill(client: TestClient, cast: Cast, order_id: int, amount: int, buyer: str = "trader"):
    return client.post(f"{V1}/market/orders/{order_id}/fill", headers=cast.auth(buyer), json={"amount": amount})


def cny(client: TestClient, cast: Cast, name: str) -> str:
    reply = client.get(f"{V1}/settlement/balances/{cast.addresses[name]}", headers=cast.auth(name))
    assert reply.status_code == 200, reply.text
    return str(reply.json()["balance"])


# ------------------------------------------------------------------ listing


def test_listing_approves_the_market_once_and_escrows_the_units(client: TestClient, cast: Cast, runtime: Runtime,
                                                                 market: int):
    reply = list_credits(client, cast, runtime)
    assert reply.status_code == 201, reply.text
    body = reply.json()
    assert [(t["contract"], t["function"], t["status"]) for t in body["transactions"]] == [
        ("CreditRegistry", "setApprovalForAll", "mined"), ("CarbonMarket", "list", "mined")]
    order = body["order"]
    assert {k: order[k] for k in ("order_id", "seller", "asset", "token_id", "amount", "remaining", "price",
                                  "price_units", "status")} == {
        "order_id": 1, "seller": cast.addresses["enterprise_a"], "asset": "credit", "token_id": 1, "amount": 300,
        "remaining": 300, "price": "50.00", "price_units": 5000, "status": "open"}
    assert credit_balance(runtime, cast, "enterprise_a", 1) == 700
    again = list_credits(client, cast, runtime, 10).json()
    assert [t["function"] for t in again["transactions"]] == ["list"]


def test_a_price_outside_the_band_is_refused_with_the_band(client: TestClient, cast: Cast, runtime: Runtime,
                                                           market: int):
    reply = list_credits(client, cast, runtime, price="55.01")
    assert reply.status_code == 409
    body = reply.json()
    assert body["error"] == "PriceOutOfBand"
    assert body["args"] == {"price": 5501, "lower": 4500, "upper": 5500}
    assert "[4500, 5500]" in body["message"]
    assert credit_balance(runtime, cast, "enterprise_a", 1) == 1000


@pytest.mark.parametrize("price", ["50.001", "0", "0.00", "-5", "abc", "1e3"])
def test_prices_are_positive_cny_with_at_most_two_decimals(client: TestClient, cast: Cast, runtime: Runtime,
                                                           market: int, price: str):
    assert list_credits(client, cast, runtime, price=price).status_code == 422


def test_an_expiry_in_the_past_is_refused(client: TestClient, cast: Cast, runtime: Runtime, market: int):
    reply = list_credits(client, cast, runtime, expires_in=-10)
    assert reply.status_code == 422 and reply.json()["error"] == "ExpiryInPast"


def test_an_expiry_before_the_epoch_is_a_422_not_a_500(client: TestClient, cast: Cast, runtime: Runtime,
                                                       market: int):
    """Reported: such an order crashed while its group was encoded, and failed the requests sent with it."""
    reply = client.post(f"{V1}/market/orders", headers=cast.auth("enterprise_a"), json={
        "asset": "credit", "token_id": 1, "amount": 1, "price": "50.00", "expiry": "0001-01-01T00:00:00Z"})
    # refused with the request's validation (a time the chain can hold), before any approval is sent
    assert (reply.status_code, reply.json()["error"]) == (422, "ValidationError")


def test_listing_needs_a_trading_role_an_active_unfrozen_member_and_the_units(client: TestClient, cast: Cast,
                                                                              runtime: Runtime, market: int):
    wrong = list_credits(client, cast, runtime, seller="verifier")
    assert wrong.status_code == 403 and wrong.json()["error"] == "MissingRole"
    none = list_credits(client, cast, runtime, seller="enterprise_b")
    assert none.status_code == 409 and none.json()["error"] == "ERC1155InsufficientBalance"
    sanction(client, cast, "enterprise_a", "freeze")
    frozen = list_credits(client, cast, runtime)
    assert frozen.status_code == 403 and frozen.json()["error"] == "AccountFrozen"
    sanction(client, cast, "enterprise_a", "unfreeze")
    sanction(client, cast, "enterprise_a", "suspend")
    suspended = list_credits(client, cast, runtime)
    assert suspended.status_code == 403 and suspended.json()["error"] == "MemberNotActive"


def test_a_stranger_is_not_authenticated_as_a_member(client: TestClient, cast: Cast, runtime: Runtime,
                                                     market: int):
    reply = list_credits(client, cast, runtime, seller="stranger")
    assert reply.status_code == 403


# ------------------------------------------------------------------ filling


def test_a_fill_pays_the_seller_and_delivers_to_the_buyer(client: TestClient, cast: Cast, runtime: Runtime,
                                                          market: int):
    list_credits(client, cast, runtime)
    reply = fill(client, cast, 1, 120)
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert [(t["contract"], t["function"]) for t in body["transactions"]] == [
        ("SettlementToken", "approve"), ("CarbonMarket", "fill")]
    assert (body["order"]["remaining"], body["order"]["status"]) == (180, "open")
    assert credit_balance(runtime, cast, "trader", 1) == 120
    assert cny(client, cast, "enterprise_a") == "6000.00"
    assert cny(client, cast, "trader") == "94000.00"
    rest = fill(client, cast, 1, 180).json()
    assert [t["function"] for t in rest["transactions"]] == ["fill"]
    assert (rest["order"]["remaining"], rest["order"]["status"]) == (0, "filled")


def test_a_fill_after_expiry_is_refused_and_anyone_reclaims_the_escrow(client: TestClient, cast: Cast,
                                                                       runtime: Runtime, market: int):
    list_credits(client, cast, runtime, expires_in=3600)
    early = client.post(f"{V1}/market/orders/1/reclaim", headers=cast.auth("trader"))
    assert early.status_code == 409 and early.json()["error"] == "OrderNotExpired"
    travel(runtime, 7200)
    late = fill(client, cast, 1, 10)
    assert late.status_code == 409 and late.json()["error"] == "OrderExpired"
    book = client.get(f"{V1}/market/books/credit/1", headers=cast.auth("trader")).json()
    assert book["orders"] == []
    reclaimed = client.post(f"{V1}/market/orders/1/reclaim", headers=cast.auth("trader"))
    assert reclaimed.status_code == 200 and reclaimed.json()["order"]["status"] == "expired"
    assert credit_balance(runtime, cast, "enterprise_a", 1) == 1000


def test_a_seller_cannot_fill_its_own_order_nor_buy_more_than_remains(client: TestClient, cast: Cast,
                                                                      runtime: Runtime, market: int):
    list_credits(client, cast, runtime, 100)
    too_much = fill(client, cast, 1, 101)
    assert too_much.status_code == 409 and too_much.json()["error"] == "FillExceedsRemaining"
    mint(client, cast, "enterprise_a", "10.00")
    own = fill(client, cast, 1, 1, buyer="enterprise_a")
    assert own.status_code == 409 and own.json()["error"] == "SelfFill"


def test_a_buyer_without_the_money_is_refused(client: TestClient, cast: Cast, runtime: Runtime, market: int):
    list_credits(client, cast, runtime, 100)
    reply = fill(client, cast, 1, 10, buyer="enterprise_b")
    assert reply.status_code == 409 and reply.json()["error"] == "ERC20InsufficientBalance"


def test_a_frozen_buyer_cannot_fill(client: TestClient, cast: Cast, runtime: Runtime, market: int):
    list_credits(client, cast, runtime, 100)
    sanction(client, cast, "trader", "freeze")
    assert fill(client, cast, 1, 10).status_code == 403


def test_unknown_orders_are_not_found(client: TestClient, cast: Cast, market: int):
    reply = fill(client, cast, 7, 1)
    assert reply.status_code == 404 and reply.json()["error"] == "UnknownOrder"


# ------------------------------------------------------------------ cancelling


def test_the_seller_cancels_and_gets_the_rest_back(client: TestClient, cast: Cast, runtime: Runtime, market: int):
    list_credits(client, cast, runtime)
    fill(client, cast, 1, 100)
    reply = client.post(f"{V1}/market/orders/1/cancel", headers=cast.auth("enterprise_a"))
    assert reply.status_code == 200
    assert (reply.json()["order"]["status"], reply.json()["order"]["remaining"]) == ("cancelled", 0)
    assert credit_balance(runtime, cast, "enterprise_a", 1) == 900
    again = client.post(f"{V1}/market/orders/1/cancel", headers=cast.auth("enterprise_a"))
    assert again.status_code == 409 and again.json()["error"] == "OrderNotOpen"


def test_a_stranger_cannot_cancel_someone_elses_order(client: TestClient, cast: Cast, runtime: Runtime,
                                                      market: int):
    list_credits(client, cast, runtime)
    reply = client.post(f"{V1}/market/orders/1/cancel", headers=cast.auth("trader"))
    assert reply.status_code == 403 and reply.json()["error"] == "NotOrderSeller"
    assert reply.json()["args"] == {"orderId": 1, "account": cast.addresses["trader"]}


# ------------------------------------------------------------------ market data


def test_the_book_lists_open_orders_best_price_first(client: TestClient, cast: Cast, runtime: Runtime,
                                                     market: int):
    list_credits(client, cast, runtime, 100, "52.00")
    list_credits(client, cast, runtime, 100, "48.50")
    list_credits(client, cast, runtime, 100, "52.00")
    list_credits(client, cast, runtime, 50, "49.00")
    client.post(f"{V1}/market/orders/4/cancel", headers=cast.auth("enterprise_a"))
    fill(client, cast, 2, 100)
    book = client.get(f"{V1}/market/books/credit/1", headers=cast.auth("enterprise_b"))
    assert book.status_code == 200
    assert [(o["order_id"], o["price"], o["remaining"]) for o in book.json()["orders"]] == [
        (1, "52.00", 100), (3, "52.00", 100)]
    assert book.json()["page"]["total"] == 2
    mine = client.get(f"{V1}/market/orders", headers=cast.auth("enterprise_a2")).json()
    assert [(o["order_id"], o["status"]) for o in mine["items"]] == [
        (4, "cancelled"), (3, "open"), (2, "filled"), (1, "open")]
    assert client.get(f"{V1}/market/orders", headers=cast.auth("trader")).json()["items"] == []


def test_trades_show_price_amount_payment_parties_and_the_transaction(client: TestClient, cast: Cast,
                                                                      runtime: Runtime, market: int):
    list_credits(client, cast, runtime, 300, "50.00")
    first = fill(client, cast, 1, 100).json()["transactions"][-1]
    second = fill(client, cast, 1, 20).json()["transactions"][-1]
    reply = client.get(f"{V1}/market/trades/credit/1", headers=cast.auth("enterprise_a")).json()
    assert reply["page"]["total"] == 2
    others = client.get(f"{V1}/market/trades/credit/1", headers=cast.auth("enterprise_b")).json()["items"]
    assert [(t["seller"], t["buyer"], t["tx_hash"], t["amount"]) for t in others] == [(None, None, None, 20),
                                                                                      (None, None, None, 100)]
    latest, earliest = reply["items"]
    assert {k: earliest[k] for k in ("order_id", "seller", "buyer", "amount", "price", "payment", "payment_units",
                                     "tx_hash", "block_number")} == {
        "order_id": 1, "seller": cast.addresses["enterprise_a"], "buyer": cast.addresses["trader"], "amount": 100,
        "price": "50.00", "payment": "5000.00", "payment_units": 500000, "tx_hash": first["tx_hash"],
        "block_number": first["block_number"]}
    assert latest["tx_hash"] == second["tx_hash"] and latest["payment"] == "1000.00"
    assert datetime.fromisoformat(latest["time"]).tzinfo is not None


def test_the_close_is_the_days_vwap_and_carries_over(client: TestClient, cast: Cast, runtime: Runtime,
                                                     market: int):
    list_credits(client, cast, runtime, 300, "50.00", expires_in=10 * DAY)
    list_credits(client, cast, runtime, 300, "52.05", expires_in=10 * DAY)
    fill(client, cast, 1, 100)
    fill(client, cast, 2, 300)
    day = datetime.fromtimestamp(chain_now(runtime), UTC).date()
    travel(runtime, 2 * DAY)
    reply = client.get(f"{V1}/market/closes/credit/1", headers=cast.auth("trader"),
                       params={"from": day.isoformat()})
    assert reply.status_code == 200, reply.text
    closes = reply.json()["closes"]
    # (100 x 50.00 + 300 x 52.05) / 400 = 51.5375 -> 51.54
    assert closes[0] == {"day": day.isoformat(), "close": "51.54", "volume": 400, "trades": 2, "carried": False}
    assert [c["close"] for c in closes[1:]] == ["51.54"] * (len(closes) - 1) and len(closes) >= 3
    assert all(c["carried"] and c["volume"] == 0 for c in closes[1:])
    empty = client.get(f"{V1}/market/closes/allowance/2025", headers=cast.auth("trader")).json()["closes"]
    assert [c["close"] for c in empty] == [None]


def test_a_close_range_is_bounded(client: TestClient, cast: Cast, market: int):
    reply = client.get(f"{V1}/market/closes/credit/1", headers=cast.auth("trader"),
                       params={"from": "2020-01-01", "until": "2024-01-01"})
    assert reply.status_code == 422 and reply.json()["error"] == "InvalidRange"


def test_only_a_regulator_sets_reference_prices(client: TestClient, cast: Cast, market: int):
    reply = client.post(f"{V1}/market/reference-prices", headers=cast.auth("trader"),
                        json={"asset": "credit", "token_id": 1, "price": "1.00"})
    assert reply.status_code == 403


def test_allowances_trade_too(client: TestClient, cast: Cast, runtime: Runtime, market: int):
    from tests.service.helpers import allocate, balance

    allocate(client, cast, {"enterprise_b": 500})
    client.post(f"{V1}/market/reference-prices", headers=cast.auth("regulator"),
                json={"asset": "allowance", "token_id": 2025, "price": "80.00"})
    listed = client.post(f"{V1}/market/orders", headers=cast.auth("enterprise_b"), json={
        "asset": "allowance", "token_id": 2025, "amount": 200, "price": "81.00",
        "expiry": datetime.fromtimestamp(chain_now(runtime) + DAY, UTC).isoformat()})
    assert listed.status_code == 201, listed.text
    assert listed.json()["transactions"][0]["contract"] == "AllowanceRegistry"
    assert fill(client, cast, 1, 200).status_code == 200
    assert balance(client, cast, "trader") == 200
    assert cny(client, cast, "enterprise_b") == "16200.00"


# ------------------------------------------------------------------ settlement bank


def test_only_a_settlement_bank_mints_and_burns(client: TestClient, cast: Cast, runtime: Runtime, market: int):
    refused = client.post(f"{V1}/settlement/mint", headers=cast.auth("regulator"),
                          json={"to": cast.addresses["trader"], "amount": "1.00"})
    assert refused.status_code == 403 and refused.json()["error"] == "MissingRole"
    mint(client, cast, "bank", "250.50")
    burned = client.post(f"{V1}/settlement/burn", headers=cast.auth("bank"), json={"amount": "200.25"})
    assert burned.status_code == 200
    reply = client.get(f"{V1}/settlement/balances/{cast.addresses['bank']}", headers=cast.auth("bank")).json()
    assert (reply["balance"], reply["units"]) == ("50.25", 5025)
    assert client.post(f"{V1}/settlement/burn", headers=cast.auth("bank"),
                       json={"amount": "0.001"}).status_code == 422


def test_settlement_balances_are_private(client: TestClient, cast: Cast, market: int):
    reply = client.get(f"{V1}/settlement/balances/{cast.addresses['trader']}", headers=cast.auth("enterprise_a"))
    assert reply.status_code == 403 and reply.json()["error"] == "NotYourData"
    seen = client.get(f"{V1}/settlement/balances/{cast.addresses['trader']}", headers=cast.auth("bank"))
    assert seen.json()["balance"] == "100000.00"


# ------------------------------------------------------------------ relayed


def test_a_non_custodial_seller_relays_its_own_approval_and_listing(client: TestClient, cast: Cast,
                                                                    runtime: Runtime, market: int):
    client.post(f"{V1}/credits/transfers", headers=cast.auth("enterprise_a"),
                json={"to": cast.addresses["self_signer"], "batch_id": 1, "amount": 50})
    me = cast.accounts["self_signer"]
    market_address = runtime.deployment.addresses["CarbonMarket"]
    registry = runtime.deployment.addresses["CreditRegistry"]
    approval = relay(client, cast, "self_signer",
                     signed_call(runtime, me, "CreditRegistry", "setApprovalForAll", market_address, True))
    assert approval.status_code == 200 and approval.json()["status"] == "mined", approval.text
    listing = relay(client, cast, "self_signer", signed_call(runtime, me, "CarbonMarket", "list", registry, 1, 50,
                                                             5000, chain_now(runtime) + DAY, nonce=None))
    assert listing.status_code == 200 and listing.json()["status"] == "mined", listing.text
    book = client.get(f"{V1}/market/books/credit/1", headers=cast.auth("enterprise_b")).json()
    assert [(o["seller"], o["amount"]) for o in book["orders"]] == [(me.address, 50)]
    book = client.get(f"{V1}/market/books/credit/1", headers=cast.auth("trader")).json()
    assert [(o["seller"], o["amount"]) for o in book["orders"]] == [(None, 50)]  # another organisation's order
    refused = relay(client, cast, "self_signer",
                    signed_call(runtime, me, "CarbonMarket", "setReferencePrice", registry, 1, 1))
    assert refused.status_code == 403 and refused.json()["error"] == "MissingRole"


def test_a_non_custodial_seller_has_its_listing_prepared_signs_it_as_a_wallet_and_relays_it(
        client: TestClient, cast: Cast, runtime: Runtime, market: int):
    client.post(f"{V1}/credits/transfers", headers=cast.auth("enterprise_a"),
                json={"to": cast.addresses["self_signer"], "batch_id": 1, "amount": 80})
    me = cast.accounts["self_signer"]
    listing = {"asset": "credit", "token_id": 1, "amount": 50, "price": "50.00", "expiry": chain_now(runtime) + DAY}
    prepared = client.post(f"{V1}/market/orders/prepare", headers=cast.auth("self_signer"), json=listing)
    assert prepared.status_code == 200, prepared.text
    txs = prepared.json()["transactions"]
    assert [(t["contract"], t["function"]) for t in txs] == [("CreditRegistry", "setApprovalForAll"),
                                                             ("CarbonMarket", "list")]
    first = runtime.chain.pending_nonce(me.address)
    assert [int(t["transaction"]["nonce"], 16) for t in txs] == [first, first + 1]
    assert all(t["transaction"]["from"] == me.address for t in txs)
    for t in txs:  # in order: the approval first
        relayed = relay(client, cast, "self_signer", sign_as_wallet(me, t["transaction"]))
        assert relayed.status_code == 200 and relayed.json()["status"] == "mined", relayed.text
    book = client.get(f"{V1}/market/books/credit/1", headers=cast.auth("self_signer")).json()
    (order,) = [o for o in book["orders"] if o["seller"] == me.address]
    assert order["amount"] == 50
    # Approved now, the listing is run before it is signed: 50 more than the 30 held is refused, decoded.
    beyond = client.post(f"{V1}/market/orders/prepare", headers=cast.auth("self_signer"), json=listing)
    assert beyond.status_code == 409 and beyond.json()["error"] == "ERC1155InsufficientBalance", beyond.text
    again = client.post(f"{V1}/market/orders/prepare", headers=cast.auth("self_signer"), json={**listing, "amount": 30})
    assert [t["function"] for t in again.json()["transactions"]] == ["list"]
    cancel = client.post(f"{V1}/market/orders/{order['order_id']}/cancel/prepare", headers=cast.auth("self_signer"))
    assert cancel.status_code == 200, cancel.text
    (tx,) = cancel.json()["transactions"]
    assert relay(client, cast, "self_signer", sign_as_wallet(me, tx["transaction"])).json()["status"] == "mined"
    assert client.get(f"{V1}/market/orders/{order['order_id']}", headers=cast.auth("self_signer")
                      ).json()["status"] == "cancelled"


def test_preparing_is_refused_as_doing_is_and_before_anything_is_signed(client: TestClient, cast: Cast,
                                                                        runtime: Runtime, market: int):
    order_id = list_credits(client, cast, runtime).json()["order"]["order_id"]
    listing = {"asset": "credit", "token_id": 1, "amount": 5, "price": "50.00", "expiry": chain_now(runtime) + DAY}
    verifier = client.post(f"{V1}/market/orders/prepare", headers=cast.auth("verifier"), json=listing)
    assert verifier.status_code == 403 and verifier.json()["error"] == "MissingRole"
    # Someone else's order: the market's own refusal, decoded, from the call run before signing.
    not_mine = client.post(f"{V1}/market/orders/{order_id}/cancel/prepare", headers=cast.auth("self_signer"))
    assert not_mine.status_code == 403 and not_mine.json()["error"] == "NotOrderSeller", not_mine.text
    unknown = client.post(f"{V1}/market/orders/999/fill/prepare", headers=cast.auth("trader"), json={"amount": 1})
    assert unknown.status_code == 404, unknown.text
    assert client.post(f"{V1}/market/orders/prepare", headers=cast.auth("self_signer"),
                       json={**listing, "price": "50.001"}).status_code == 422


def test_concurrent_listings_are_each_answered_with_their_own_order_and_a_refused_one_fails_no_other(
        served: str, client: TestClient, cast: Cast, runtime: Runtime, market: int):
    """Listings are served on the event loop and join the group commit; each caller's order is the one its own
    transaction listed."""
    assert list_credits(client, cast, runtime, amount=1).status_code == 201  # the approval, once
    expiry = chain_now(runtime) + DAY
    bodies = [{"asset": "credit", "token_id": 1, "amount": amount, "price": "50.00", "expiry": expiry}
              for amount in (2, 3, 4, 5, 6)] + [{"asset": "credit", "token_id": 1, "amount": 7, "price": "500.00",
                                                   "expiry": expiry}]
    groups_before = runtime.outbox.group.groups

    async def send_all() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=served, timeout=60) as http:
            return await asyncio.gather(*(http.post(f"{V1}/market/orders", headers=cast.auth("enterprise_a"),
                                                    json=body) for body in bodies))

    replies = asyncio.run(send_all())

    assert [r.status_code for r in replies] == [201] * 5 + [409], replies[-1].text
    assert replies[-1].json()["error"] == "PriceOutOfBand"
    orders = [r.json()["order"] for r in replies[:5]]
    assert [o["amount"] for o in orders] == [2, 3, 4, 5, 6]
    assert len({o["order_id"] for o in orders}) == 5
    assert [[t["function"] for t in r.json()["transactions"]] for r in replies[:5]] == [["list"]] * 5
    assert runtime.outbox.group.groups - groups_before < 5
