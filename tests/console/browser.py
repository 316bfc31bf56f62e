"""The console in a real browser: headless Chromium from Debian's `chromium` package, driven through Debian's
`chromium-driver` by Selenium, against the service served on the demo's park (a random port above 20000).

Browser test modules import this first: it skips them, saying why, where Chromium or its driver is not installed
(CI installs both). The fixtures (`served`, `shots`, `chrome`) are in `tests/console/conftest.py`."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.console.conftest import CHROMEDRIVER, CHROMIUM, Park
from tests.console.helpers import wallet_signature

if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
    pytest.skip(f"browser tests need Debian's chromium and chromium-driver ({CHROMIUM}, {CHROMEDRIVER}): "
                "apt-get install chromium chromium-driver", allow_module_level=True)
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is a dev extra: pip install -e '.[dev]'")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402
from selenium.webdriver.support import expected_conditions  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

__all__ = ["By", "Keys", "Select", "WebDriver", "WebDriverWait", "expected_conditions", "shoot",
           "sign_in_with_key", "sign_in_with_wallet"]


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
