"""The market and the early warning in a real browser (`tests/console/browser.py`): a trader lists allowances, a
member holding its own key fills the order by signing the prepared transactions (signed here exactly as a wallet
signs them, then pasted), the trade appears and the book changes; the regulator reads the park's early warning."""

from __future__ import annotations

import json
import re
from pathlib import Path

from eth_account.signers.local import LocalAccount

from ledger_service.demo import cast as demo_cast
from ledger_service.services.wiring import build_services
from tests.console.browser import (
    By,
    WebDriver,
    WebDriverWait,
    expected_conditions,
    shoot,
    sign_in_with_key,
    sign_in_with_wallet,
)
from tests.console.conftest import PARK, YEAR, Park
from tests.console.test_console_market_http import MARKET, address_of, give_allowances, sign_as_wallet, wallet

__all__ = ["wallet"]  # the fixture: the member holding its own key, with gas


# A browser wallet as EIP-1193 describes it: it answers eth_signTransaction with the signed transaction the test
# put in `walletSigns` for that nonce (signed in Python, as the wallet's key would sign it).
WALLET = """
window.walletSigns = {};
window.ethereum = { request: ({ method, params }) => {
  if (method === "eth_requestAccounts") return Promise.resolve([%s]);
  if (method !== "eth_signTransaction") return Promise.reject(new Error("unsupported " + method));
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const wait = () => window.walletSigns[params[0].nonce] ? resolve(window.walletSigns[params[0].nonce])
      : Date.now() - started > 10000 ? reject(new Error("not signed")) : setTimeout(wait, 20);
    wait();
  });
} };
"""


def give_cny(park: Park, to: str, units: int) -> None:
    services = build_services(park.runtime)
    bank = services.organisations.members(demo_cast.BANK, 0, 1).items[0].address
    services.settlement.mint(demo_cast.caller(park.runtime, bank), to, units)


def book(driver: WebDriver) -> dict[int, str]:
    """The order book's rows by order id (read by a script: an empty book is not waited for)."""
    rows = driver.execute_script("return [...document.querySelectorAll('#book-table tbody tr[data-order]')]"
                                 ".map(r => [r.dataset.order, r.innerText])")
    return {int(order): text for order, text in rows}


def test_a_trader_lists_and_a_member_signing_with_its_own_key_fills(park: Park, served: str, shots: Path,
                                                                     chrome: WebDriver, wallet: LocalAccount):
    chrome.implicitly_wait(10)  # a form's next page may still be loading when its button's click returns
    give_allowances(park, address_of(park, "trader_a"), 20)
    give_cny(park, wallet.address, 100_000)  # CNY 1,000.00
    sign_in_with_key(chrome, served, park.keys["trader_a"])
    chrome.find_element(By.CSS_SELECTOR, 'a[href="/console/market"]').click()
    chrome.find_element(By.CSS_SELECTOR, f'a[href="{MARKET}"]').click()
    before = book(chrome)
    trades_before = len(chrome.find_elements(By.CSS_SELECTOR, "#trades-table tbody tr"))
    shoot(chrome, shots, "m-01-market")
    chrome.find_element(By.ID, "place-amount").send_keys("20")
    chrome.find_element(By.ID, "place-price").send_keys("60.80")
    chrome.find_element(By.ID, "place-button").click()
    result = chrome.find_element(By.ID, "result").text
    found = re.search(r"Order #(\d+)", result)
    assert result.startswith("Order placed") and found is not None
    order = int(found.group(1))
    assert set(book(chrome)) - set(before) == {order} and "20 tCO2e" in book(chrome)[order]
    shoot(chrome, shots, "m-02-listed")

    sign_in_with_wallet(chrome, served, park)
    WebDriverWait(chrome, 20).until(expected_conditions.url_to_be(f"{served}/console/"))
    chrome.get(f"{served}{MARKET}")
    amount = chrome.find_element(By.ID, f"fill-{order}")
    amount.clear()
    amount.send_keys("5")
    chrome.find_element(By.ID, f"fill-button-{order}").click()
    # The signing page: the settlement token's approval (first time) and the fill, prepared for the member's key.
    unsigned = chrome.find_elements(By.CSS_SELECTOR, "textarea.unsigned")
    assert chrome.find_element(By.TAG_NAME, "h1").text == "Sign with your own key"
    assert unsigned and "fill" in chrome.find_elements(By.CSS_SELECTOR, ".unsigned-tx h2")[-1].text
    assert not chrome.find_element(By.ID, "wallet-sign-tx").is_displayed()  # no browser wallet: paste
    shoot(chrome, shots, "m-03-sign")
    for source in unsigned:
        tx = json.loads(source.get_property("value"))
        assert tx["from"] == wallet.address
        chrome.find_element(By.ID, source.get_attribute("data-signed") or "").send_keys(sign_as_wallet(wallet, tx))
    chrome.find_element(By.ID, "relay-button").click()
    assert chrome.find_element(By.ID, "result").text.startswith(f"Bought · Order #{order} · Transaction 0x")
    assert "15 tCO2e" in book(chrome)[order]  # 20 listed, 5 bought
    trades = chrome.find_elements(By.CSS_SELECTOR, "#trades-table tbody tr")
    assert len(trades) == trades_before + 1
    assert wallet.address in trades[0].text and "CNY 304.00" in trades[0].text  # its own fill: 5 t at CNY 60.80
    shoot(chrome, shots, "m-04-filled")

    # Again with a browser wallet (EIP-1193) in the page: the script asks it to sign and relays what it returns.
    chrome.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": WALLET % json.dumps(wallet.address)})
    chrome.get(f"{served}{MARKET}")
    amount = chrome.find_element(By.ID, f"fill-{order}")
    amount.clear()
    amount.send_keys("3")
    chrome.find_element(By.ID, f"fill-button-{order}").click()
    (source,) = chrome.find_elements(By.CSS_SELECTOR, "textarea.unsigned")  # approved already: the fill alone
    tx = json.loads(source.get_property("value"))
    chrome.execute_script("window.walletSigns[arguments[0]] = arguments[1]", tx["nonce"], sign_as_wallet(wallet, tx))
    chrome.find_element(By.ID, "wallet-sign-tx").click()
    WebDriverWait(chrome, 20).until(lambda d: d.find_elements(By.ID, "result"))
    assert chrome.find_element(By.ID, "result").text.startswith(f"Bought · Order #{order}")
    assert "12 tCO2e" in book(chrome)[order]


def test_the_regulator_reads_the_parks_early_warning(park: Park, served: str, shots: Path, chrome: WebDriver):
    chrome.set_window_size(800, 1000)
    chrome.implicitly_wait(10)
    sign_in_with_key(chrome, served, park.keys["regulator"])
    chrome.get(f"{served}/console/parks/{PARK}?year={YEAR}")
    chrome.find_element(By.ID, "to-warning").click()
    rows = chrome.find_elements(By.CSS_SELECTOR, "#warning-table tbody tr")
    assert len(rows) == 5 and all("Run-rate" in r.text for r in rows)
    assert chrome.find_elements(By.CSS_SELECTOR, "#warning-table tr.shortfall-coming")
    assert len(chrome.find_elements(By.CSS_SELECTOR, "svg.line-chart")) == 5
    assert chrome.execute_script("return document.documentElement.scrollWidth") <= 800
    shoot(chrome, shots, "m-05-early-warning-800px")
