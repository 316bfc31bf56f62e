"""The market and early-warning pages over plain HTTP: an order placed, filled and cancelled through the forms
changes the book; a member signing its own transactions gets them prepared, signs them as a wallet would and has
them relayed; the refusals are the use cases' own, shown on the page with the form as typed."""

from __future__ import annotations

import html
import json
import re
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient

from ledger_core.assets import tradeable_names
from ledger_service.console.i18n import LANGUAGES, catalogue
from ledger_service.demo import cast as demo_cast
from ledger_service.forecast import METHOD_NOTES
from ledger_service.market import ORDER_STATUS
from ledger_service.services.wiring import build_services
from tests.console.conftest import FIRST, PARK, SECOND, YEAR, Park
from tests.console.helpers import browser, challenge, csrf_of, send_siwe, sign_in_with_key, wallet_signature
from tests.support.wallet import sign_as_wallet

MARKET = f"/console/market/allowance/{YEAR}"
PRICE = "60.50"  # within the band around the demo's reference price (CNY 60.00)


def signed_in(park: Park, actor: str) -> TestClient:
    client = browser(park.runtime)
    sign_in_with_key(client, park.keys[actor])
    return client


def address_of(park: Park, actor: str) -> str:
    return park.runtime.api_keys.authenticate(park.keys[actor]).member


def give_allowances(park: Park, to: str, amount: int) -> None:
    """Allowances of the demo's year from the trader holding the demo's leftover (its key kept by the service)."""
    services = build_services(park.runtime)
    holder = next(m.address for m in services.organisations.members(demo_cast.TRADING_B, 0, 1).items)
    services.allowances.transfer(demo_cast.caller(park.runtime, holder), to, YEAR, amount)


def expiry_of(page: str) -> str:
    found = re.search(r'id="place-expiry" name="expiry" type="datetime-local" required value="([^"]+)"', page)
    assert found is not None
    return found.group(1)


def place(client: TestClient, amount: int | str, price: str = PRICE, expiry: str | None = None,
          csrf: str | None = "") -> Any:
    page = client.get(MARKET)
    data = {"amount": str(amount), "price": price, "expiry": expiry or expiry_of(page.text)}
    if csrf is not None:
        data["csrf"] = csrf or csrf_of(client)
    return client.post(f"{MARKET}/orders", data=data)


def order_id_of(location: str) -> int:
    found = re.search(r"[?&]order=(\d+)", location)
    assert found is not None, location
    return int(found.group(1))


def book_rows(page: str) -> dict[int, str]:
    table = page.split('id="book-table"', 1)[1].split("</table>", 1)[0]
    return {int(n): row for n, row in re.findall(r'<tr data-order="(\d+)">(.*?)</tr>', table, re.S)}


def refusal_code(page: str) -> str:
    found = re.search(r'id="refusal-code">([^<]+)<', page)
    assert found is not None, page[-2000:]
    return found.group(1)


@pytest.fixture
def wallet(park: Park) -> LocalAccount:
    """The non-custodial member (admitted by address: the service funds it as it funds any member it admits on the
    embedded chain)."""
    return park.wallet


def wallet_client(park: Park) -> TestClient:
    client = browser(park.runtime)
    message = challenge(client, park.wallet.address)
    assert send_siwe(client, message, wallet_signature(park.wallet, message)).status_code == 303
    return client


def prepared(page: str) -> list[dict[str, Any]]:
    """The transactions the signing page asks for, as a wallet's eth_signTransaction takes them."""
    found = re.findall(r'<textarea id="unsigned-\d+" class="unsigned"[^>]*>(.*?)</textarea>', page, re.S)
    return [json.loads(html.unescape(text)) for text in found]


def relay(client: TestClient, action: str, raws: list[str], order: int | None = None) -> Any:
    data: dict[str, Any] = {"raw_tx": raws, "action": action, "csrf": csrf_of(client)}
    if order is not None:
        data["order"] = str(order)
    return client.post(f"{MARKET}/relay", data=data)


# ------------------------------------------------------------------ pages


def test_every_member_opens_the_market_and_the_home_page_links_it(park: Park):
    for actor in ("regulator", "verifier", "trader_a", f"enterprise-{FIRST}"):
        client = signed_in(park, actor)
        assert 'href="/console/market"' in client.get("/console/").text
        index = client.get("/console/market")
        assert index.status_code == 200 and f'href="{MARKET}"' in index.text
        page = client.get(MARKET)
        assert page.status_code == 200, actor
        for part in ('id="book-table"', 'id="trades-table"', 'id="closes-table"', 'id="place-form"',
                     'aria-describedby="closes-chart-desc"', "<desc id=\"closes-chart-desc\">"):
            assert part in page.text, (actor, part)
    trader = signed_in(park, "trader_a")
    mine = trader.get("/console/market").text.split('id="my-orders-table"', 1)[1]
    assert "574 tCO2e" in mine and "CNY 62.40/t" in mine  # the demo's order of trader_a's firm, filled
    assert trader.get("/console/market/bond/1").status_code == 404
    assert trader.get("/console/market?asset=credit&token_id=1").headers["location"] == "/console/market/credit/1"


def test_the_demos_trades_appear_with_parties_only_for_their_parties(park: Park):
    regulator = signed_in(park, "regulator").get(MARKET).text
    trader = signed_in(park, "trader_a").get(MARKET).text
    verifier = signed_in(park, "verifier").get(MARKET).text
    trader_a = address_of(park, "trader_a")
    assert regulator.count(trader_a) >= 2 and trader.count(trader_a) >= 2  # its own sale and purchase
    assert trader_a not in verifier and "not shown" in verifier
    assert "CNY 61.50/t" in regulator  # the demo's day closed at the VWAP of its fills


def test_a_signed_out_browser_is_sent_to_sign_in_from_the_new_pages(park: Park):
    client = browser(park.runtime)
    for page in ("/console/market", MARKET, f"/console/parks/{PARK}/warning", f"/console/enterprises/{FIRST}/warning"):
        reply = client.get(page)
        assert reply.status_code == 303 and reply.headers["location"].startswith("/console/sign-in?next="), page
    reply = client.post(f"{MARKET}/orders", data={"amount": "1", "price": PRICE, "csrf": csrf_of(client),
                                                  "expiry": "2030-01-01T00:00"})
    assert reply.status_code == 303 and reply.headers["location"] == "/console/sign-in"


# ------------------------------------------------------------------ custodial members trade


def test_an_order_is_placed_filled_and_cancelled_through_the_forms(park: Park):
    trader, buyer = signed_in(park, "trader_a"), signed_in(park, f"enterprise-{FIRST}")
    give_allowances(park, address_of(park, "trader_a"), 30)
    listed = place(trader, 30)
    assert listed.status_code == 303, listed.text[-2000:]
    order = order_id_of(listed.headers["location"])
    page = trader.get(listed.headers["location"])
    assert f"Order placed · Order #{order}" in page.text and re.search(r'id="result-tx">0x[0-9a-f]{64}<', page.text)
    assert "30 tCO2e" in book_rows(page.text)[order] and "CNY 60.50/t" in book_rows(page.text)[order]
    assert f'action="{MARKET}/orders/{order}/cancel"' in page.text  # its own order, open

    filled = buyer.post(f"{MARKET}/orders/{order}/fill", data={"amount": "12", "csrf": csrf_of(buyer)})
    assert filled.status_code == 303, filled.text[-2000:]
    assert f"done=filled&order={order}" in filled.headers["location"]
    after = buyer.get(MARKET).text
    assert "18 tCO2e" in book_rows(after)[order]
    trades = after.split('id="trades-table"', 1)[1]
    assert address_of(park, f"enterprise-{FIRST}") in trades.split("</tr>", 2)[1]  # the newest fill: its own
    assert "CNY 726.00" in trades  # 12 t at CNY 60.50

    # Another member cannot cancel the order; its seller can.
    refused = buyer.post(f"{MARKET}/orders/{order}/cancel", data={"csrf": csrf_of(buyer)})
    assert refused.status_code == 403 and refusal_code(refused.text) == "NotOrderSeller", refused.text[-1500:]
    cancelled = trader.post(f"{MARKET}/orders/{order}/cancel", data={"csrf": csrf_of(trader)})
    assert cancelled.status_code == 303 and "done=cancelled" in cancelled.headers["location"]
    assert order not in book_rows(trader.get(MARKET).text)


def test_a_market_form_without_this_browsers_csrf_token_is_refused(park: Park):
    trader = signed_in(park, "trader_a")
    for token in (None, "forged", csrf_of(browser(park.runtime))):
        reply = place(trader, 1, csrf=token) if token is not None else place(trader, 1, csrf=None)
        assert reply.status_code == 403 and "CsrfRefused" in reply.text
    assert trader.post(f"{MARKET}/orders/1/cancel", data={"csrf": "forged"}).status_code == 403
    assert trader.post(f"{MARKET}/relay", data={"raw_tx": ["0x00"], "csrf": "forged"}).status_code == 403


@pytest.mark.parametrize("actor", ["verifier", "regulator"])
def test_a_member_without_a_trading_role_is_refused_on_the_page_with_its_form_kept(park: Park, actor: str):
    client = signed_in(park, actor)
    reply = place(client, 7, price="61.25")
    assert reply.status_code == 403 and refusal_code(reply.text) == "MissingRole"
    assert 'id="place-amount" name="amount" inputmode="numeric" required value="7"' in reply.text
    assert 'value="61.25"' in reply.text and 'id="book-table"' in reply.text
    fill = client.post(f"{MARKET}/orders/1/fill", data={"amount": "1", "csrf": csrf_of(client)})
    assert fill.status_code == 403 and refusal_code(fill.text) == "MissingRole"


@pytest.mark.parametrize(("field", "value", "says"), [
    ("price", "60.555", "at most two decimals"), ("price", "-1", "at most two decimals"),
    ("price", "0", "must be a positive amount"), ("amount", "1.5", "a whole number"), ("amount", "0", "whole number"),
    ("expiry", "next week", "a date and time"),
])
def test_a_bad_value_is_refused_with_its_message_and_the_form_kept(park: Park, field: str, value: str, says: str):
    trader = signed_in(park, "trader_a")
    values: dict[str, Any] = {"amount": 5, "price": PRICE, "expiry": None, field: value}
    reply = place(trader, values["amount"], values["price"], values["expiry"])
    assert reply.status_code == 422 and refusal_code(reply.text) == "ValidationError"
    assert says in html.unescape(reply.text)
    assert f'value="{html.escape(value)}"' in reply.text


def test_a_price_outside_the_band_is_refused_with_the_contracts_error_decoded(park: Park):
    trader = signed_in(park, "trader_a")
    give_allowances(park, address_of(park, "trader_a"), 5)
    reply = place(trader, 5, price="90.00")
    assert reply.status_code in (409, 422), reply.text[-1500:]
    assert refusal_code(reply.text) == "PriceOutOfBand"
    assert 'value="90.00"' in reply.text


# ------------------------------------------------------------------ a member signing its own transactions


def test_a_non_custodial_member_signs_its_listing_and_has_it_relayed(park: Park, wallet: LocalAccount):
    give_allowances(park, wallet.address, 10)
    client = wallet_client(park)
    page = place(client, 10)
    assert page.status_code == 200, page.text[-1500:]
    txs = prepared(page.text)
    assert [t["to"] for t in txs][-1] == park.runtime.deployment.addresses["CarbonMarket"]
    assert all(int(t["chainId"], 16) == park.runtime.chain.chain_id and t["from"] == wallet.address for t in txs)
    assert [int(t["nonce"], 16) for t in txs] == list(range(int(txs[0]["nonce"], 16), int(txs[0]["nonce"], 16)
                                                            + len(txs)))
    if len(txs) == 2:  # the market's approval first, the first time this member lists allowances
        assert txs[0]["to"] == park.runtime.deployment.addresses["AllowanceRegistry"]
    before = set(book_rows(client.get(MARKET).text))
    relayed = relay(client, "listed", [sign_as_wallet(wallet, t) for t in txs])
    assert relayed.status_code == 303, relayed.text[-1500:]
    assert "done=listed" in relayed.headers["location"] and "tx=0x" in relayed.headers["location"]
    order = order_id_of(relayed.headers["location"])  # read from the relayed listing's receipt
    rows = book_rows(client.get(MARKET).text)
    assert set(rows) - before == {order}
    assert wallet.address in rows[order]  # its own organisation sees the seller

    # Cancelling: prepared, then signed by another key (refused by the relay), then by the member's.
    prepared_cancel = client.post(f"{MARKET}/orders/{order}/cancel", data={"csrf": csrf_of(client)})
    (cancel,) = prepared(prepared_cancel.text)
    forged = relay(client, "cancelled", [sign_as_wallet(Account.create(), cancel)])
    assert forged.status_code == 403 and refusal_code(forged.text) == "SignerMismatch"
    assert order in book_rows(forged.text)
    done = relay(client, "cancelled", [sign_as_wallet(wallet, cancel)], order)
    assert done.status_code == 303 and f"done=cancelled&order={order}" in done.headers["location"]
    assert order not in book_rows(client.get(MARKET).text)


def test_a_pasted_transaction_that_is_not_one_is_refused(park: Park, wallet: LocalAccount):
    client = wallet_client(park)
    for raws in (["not hex"], ["0x"], ["0xdeadbeef"], ["0x00"] * 5):
        reply = relay(client, "listed", raws)
        assert reply.status_code == 422, raws
        assert refusal_code(reply.text) == "MalformedTransaction"


# ------------------------------------------------------------------ the early warning


def test_the_regulator_sees_every_enterprises_projection_with_its_method_and_shortfall(park: Park):
    client = signed_in(park, "regulator")
    dashboard = client.get(f"/console/parks/{PARK}?year={YEAR}").text
    assert f'href="/console/parks/{PARK}/warning?year={YEAR}"' in dashboard
    page = client.get(f"/console/parks/{PARK}/warning?year={YEAR}")
    assert page.status_code == 200
    table = page.text.split('id="warning-table"', 1)[1].split("</table>", 1)[0]
    assert len(re.findall(r'data-org="\d+"', table)) == 5
    assert "Run-rate" in table  # four weeks of data and no earlier year: the run-rate
    assert "shortfall-coming" in table and "Shortfall:" in table and "tCO2e" in table
    assert page.text.count('class="chart line-chart"') == 5
    assert 'aria-describedby="warning-chart-' in page.text and "warning-months" in page.text
    assert "Jan 2025" in page.text
    assert client.get(f"/console/parks/{PARK}/warning?year={YEAR + 1}").text.count("No data") >= 5
    refused = client.get(f"/console/parks/{PARK}/warning?year=1")  # the year before is not a Unix year
    assert refused.status_code == 422 and 'id="error-code">ValidationError<' in refused.text


def test_an_enterprise_sees_its_own_early_warning_and_no_other(park: Park):
    client = signed_in(park, f"enterprise-{FIRST}")
    assert f'href="/console/enterprises/{FIRST}/warning?year=' in client.get("/console/").text
    assert f'href="/console/enterprises/{FIRST}/warning?year={YEAR}"' in client.get(
        f"/console/enterprises/{FIRST}?year={YEAR}").text
    own = client.get(f"/console/enterprises/{FIRST}/warning?year={YEAR}")
    assert own.status_code == 200 and own.text.count('data-org="') == 1
    refused = client.get(f"/console/enterprises/{SECOND}/warning?year={YEAR}")
    assert refused.status_code == 403 and 'id="error-code">NotYourData<' in refused.text
    assert signed_in(park, "trader_a").get(f"/console/parks/{PARK}/warning?year={YEAR}").status_code == 403


def test_the_new_messages_are_in_both_catalogues():
    keys = {f"market.asset.{a}" for a in tradeable_names()} | {f"market.status.{s}" for s in ORDER_STATUS.values()}
    keys |= {f"warning.method_{m}{note}" for m in ("same_period", "run_rate", "no_data") for note in ("", "_note")}
    assert len(METHOD_NOTES) == 3
    for language in LANGUAGES:
        assert keys <= set(catalogue(language)), language
