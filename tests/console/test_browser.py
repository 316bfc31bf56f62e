"""The console's main journeys in a real browser (`tests/console/browser.py`): each role's sign-in, dashboard,
drill-down to a reading, language, layout and keyboard, and the refusals, with a screenshot of every page."""

from __future__ import annotations

import re
from pathlib import Path

from tests.console.browser import (
    By,
    Keys,
    Select,
    WebDriver,
    WebDriverWait,
    expected_conditions,
    shoot,
    sign_in_with_key,
    sign_in_with_wallet,
)
from tests.console.conftest import FIRST, PARK, SECOND, YEAR, Park


def test_the_regulator_signs_in_and_drills_down_from_the_park_to_a_reading(park: Park, served: str, shots: Path,
                                                                         chrome: WebDriver):
    chrome.get(f"{served}/console/sign-in")
    shoot(chrome, shots, "01-sign-in")
    sign_in_with_key(chrome, served, park.keys["regulator"])
    shoot(chrome, shots, "02-home-regulator")
    chrome.find_element(By.CSS_SELECTOR, f'a[href="/console/parks/{PARK}?year={YEAR}"]').click()
    rows = chrome.find_elements(By.CSS_SELECTOR, "#compliance-table tbody tr")
    assert len(rows) == 5
    assert chrome.find_element(By.CSS_SELECTOR, "svg.chart")
    assert "tCO2e" in chrome.find_element(By.ID, "compliance-table").text
    shoot(chrome, shots, "03-park-dashboard")
    chrome.find_element(By.ID, "to-drilldown").click()
    chrome.find_element(By.ID, "verify-roots").click()
    # Open the first enterprise, then its first facility, workshop and device, with the keyboard-usable summaries.
    for level in ("enterprise", "facility", "workshop", "device"):
        node = chrome.find_element(By.CSS_SELECTOR, f'details[data-level="{level}"]:not([open])')
        summary = node.find_element(By.TAG_NAME, "summary")
        assert "matches anchor" in summary.text
        summary.click()
    shoot(chrome, shots, "04-drilldown")
    chrome.find_element(By.CSS_SELECTOR, "details[open] a.readings-link").click()
    assert chrome.find_elements(By.CSS_SELECTOR, "#readings-table tbody tr")
    shoot(chrome, shots, "05-device-readings")
    chrome.find_element(By.CSS_SELECTOR, "a.reading-link").click()
    assert "Proof accepted by MeterAnchor.verifyReading" in chrome.find_element(By.ID, "chain-check").text
    shoot(chrome, shots, "06-reading-proof")
    chrome.get(f"{served}/console/members")
    assert chrome.find_elements(By.CSS_SELECTOR, 'button[data-action="freeze"]')
    shoot(chrome, shots, "07-members-and-keys")
    chrome.get(f"{served}/console/enterprises/{SECOND}?year={YEAR}")
    shoot(chrome, shots, "08-enterprise-seen-by-regulator")


def test_the_dashboard_is_usable_at_tablet_width(park: Park, served: str, shots: Path, chrome: WebDriver):
    chrome.set_window_size(800, 1000)
    sign_in_with_key(chrome, served, park.keys["regulator"])
    chrome.get(f"{served}/console/parks/{PARK}?year={YEAR}")
    page_width = chrome.execute_script("return document.documentElement.scrollWidth")
    assert page_width <= 800, "wide tables scroll inside their own region, not the page"
    shoot(chrome, shots, "09-park-dashboard-800px")


def test_the_keyboard_reaches_the_skip_link_first_and_every_control_is_labelled(park: Park, served: str,
                                                                                chrome: WebDriver):
    sign_in_with_key(chrome, served, park.keys["regulator"])
    chrome.get(f"{served}/console/parks/{PARK}/drilldown?year={YEAR}")
    chrome.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)
    assert chrome.switch_to.active_element.get_attribute("class") == "skip"
    unlabelled = chrome.execute_script(
        "return [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]"
        ".filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')).map(e => e.outerHTML)")
    assert unlabelled == []


def test_an_enterprise_signs_in_with_its_wallet_and_switches_to_chinese(park: Park, served: str, shots: Path,
                                                                        chrome: WebDriver):
    sign_in_with_wallet(chrome, served, park)
    WebDriverWait(chrome, 20).until(expected_conditions.url_to_be(f"{served}/console/"))
    shoot(chrome, shots, "10-home-enterprise")
    chrome.find_element(By.CSS_SELECTOR, f'a[href="/console/enterprises/{FIRST}?year={YEAR}"]').click()
    assert chrome.find_element(By.ID, "position-list").text
    assert chrome.find_elements(By.CSS_SELECTOR, "#devices-table tbody tr")
    shoot(chrome, shots, "11-enterprise-home")
    Select(chrome.find_element(By.ID, "language")).select_by_value("zh-CN")  # applied at once by the script
    WebDriverWait(chrome, 20).until(lambda d: d.find_element(By.TAG_NAME, "html").get_attribute("lang") == "zh-CN")
    heading = chrome.find_element(By.TAG_NAME, "h1").text
    assert heading.startswith("企业主页")
    assert "履约义务" in chrome.page_source and "tCO2e" in chrome.page_source
    shoot(chrome, shots, "12-enterprise-home-zh-CN")
    chrome.get(f"{served}/console/parks/{PARK}?year={YEAR}")
    assert "园区看板" in chrome.find_element(By.TAG_NAME, "h1").text
    shoot(chrome, shots, "13-park-dashboard-zh-CN")


def test_the_refusals_in_the_browser(park: Park, served: str, shots: Path, chrome: WebDriver):
    # Signed out: sent to sign-in, and back to the page asked for once signed in.
    chrome.get(f"{served}/console/enterprises/{FIRST}?year={YEAR}")
    assert chrome.current_url.startswith(f"{served}/console/sign-in?next=")
    message, signature = sign_in_with_wallet(chrome, served, park, fresh=False)
    WebDriverWait(chrome, 20).until(expected_conditions.url_to_be(f"{served}/console/enterprises/{FIRST}?year={YEAR}"))
    # Another enterprise's page: the 403 page.
    chrome.get(f"{served}/console/enterprises/{SECOND}?year={YEAR}")
    assert "403" in chrome.find_element(By.ID, "error-status").text
    assert chrome.find_element(By.ID, "error-code").text == "NotYourData"
    shoot(chrome, shots, "14-refused-other-enterprise")
    # A forged CSRF token in a form: refused, and the session carries on.
    chrome.get(f"{served}/console/")
    chrome.execute_script("document.querySelector('form.language input[name=csrf]').value = 'forged'")
    chrome.find_element(By.CSS_SELECTOR, "form.language button[type=submit]").click()
    assert chrome.find_element(By.ID, "error-code").text == "CsrfRefused"
    shoot(chrome, shots, "15-refused-forged-csrf")
    # Signed out, the signed message is replayed: its nonce was used once already.
    chrome.get(f"{served}/console/")
    chrome.find_element(By.ID, "sign-out").click()
    WebDriverWait(chrome, 20).until(expected_conditions.url_to_be(f"{served}/console/sign-in"))
    chrome.find_element(By.ID, "address").send_keys(park.wallet.address)
    chrome.find_element(By.ID, "get-challenge").click()
    chrome.execute_script("arguments[0].value = arguments[1]", chrome.find_element(By.ID, "message"), message)
    chrome.find_element(By.ID, "signature").send_keys(signature)
    chrome.find_element(By.ID, "sign-in-siwe").click()
    assert re.search(r"nonce already used", chrome.find_element(By.ID, "sign-in-failure").text)
    shoot(chrome, shots, "16-refused-replayed-siwe")
    chrome.get(f"{served}/console/")
    assert chrome.current_url.startswith(f"{served}/console/sign-in")
