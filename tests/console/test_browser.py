"""The console in a real browser: headless Chromium from Debian's `chromium` package, driven through Debian's
`chromium-driver` by Selenium, against the service served on the demo's park (a random port above 20000).

Each role's journey and the refusals, with a screenshot of every page in `build/screenshots/` (git-ignored) for a
reviewer. Skips, saying why, where Chromium or its driver is not installed (CI installs both)."""

from __future__ import annotations

import os
import random
import re
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from ledger_core.paths import REPO_ROOT
from ledger_service.api.app import create_app
from tests.console.conftest import FIRST, PARK, SECOND, YEAR, Park
from tests.console.helpers import wallet_signature

CHROMIUM = Path(os.environ.get("CARBONLEDGER_CHROMIUM", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("CARBONLEDGER_CHROMEDRIVER", "/usr/bin/chromedriver"))
SCREENSHOTS = REPO_ROOT / "build" / "screenshots"

if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
    pytest.skip(f"browser tests need Debian's chromium and chromium-driver ({CHROMIUM}, {CHROMEDRIVER}): "
                "apt-get install chromium chromium-driver", allow_module_level=True)
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is a dev extra: pip install -e '.[dev]'")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402
from selenium.webdriver.support import expected_conditions  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402


@pytest.fixture(scope="module")
def served(park: Park) -> Iterator[str]:
    """The service's application (API and console) over the park, served by uvicorn in a thread."""
    port = random.randint(20001, 60000)
    server = uvicorn.Server(uvicorn.Config(create_app(park.runtime), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail(f"the service did not start on port {port}")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def shots() -> Path:
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    SCREENSHOTS.mkdir(parents=True)
    return SCREENSHOTS


@pytest.fixture
def chrome() -> Iterator[WebDriver]:
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1280,1000", "--lang=en-GB", "--no-first-run"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=webdriver.ChromeService(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def shoot(driver: WebDriver, shots: Path, name: str) -> None:
    """The whole page (the window grown to the page's height), as `name`.png."""
    width = driver.get_window_size()["width"]
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(width, min(max(int(height) + 120, 600), 6000))
    driver.save_screenshot(str(shots / f"{name}.png"))


def sign_in_with_key(driver: WebDriver, base: str, key: str) -> None:
    driver.get(f"{base}/console/sign-in")
    driver.find_element(By.ID, "api_key").send_keys(key)
    driver.find_element(By.ID, "sign-in-key").click()
    WebDriverWait(driver, 20).until(expected_conditions.url_to_be(f"{base}/console/"))


def sign_in_with_wallet(driver: WebDriver, base: str, park: Park, fresh: bool = True) -> tuple[str, str]:
    """Ask for the message, sign it as a wallet's personal_sign would, paste the signature; the message and
    signature used. `fresh`: from a new sign-in page (else from the one the browser shows)."""
    if fresh:
        driver.get(f"{base}/console/sign-in")
    driver.find_element(By.ID, "address").send_keys(park.wallet.address)
    driver.find_element(By.ID, "get-challenge").click()
    message = driver.find_element(By.ID, "message").get_property("value")
    assert isinstance(message, str) and park.wallet.address in message
    signature = wallet_signature(park.wallet, message)
    driver.find_element(By.ID, "signature").send_keys(signature)
    driver.find_element(By.ID, "sign-in-siwe").click()
    return message, signature


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
    chrome.execute_script("document.getElementById('message').value = arguments[0]", message)
    chrome.find_element(By.ID, "signature").send_keys(signature)
    chrome.find_element(By.ID, "sign-in-siwe").click()
    assert re.search(r"nonce already used", chrome.find_element(By.ID, "sign-in-failure").text)
    shoot(chrome, shots, "16-refused-replayed-siwe")
    chrome.get(f"{served}/console/")
    assert chrome.current_url.startswith(f"{served}/console/sign-in")
