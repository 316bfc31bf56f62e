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

__all__ = ["By", "Keys", "Select", "WebDriver", "WebDriverWait", "expected_conditions", "low_contrast", "shoot",
           "sign_in_with_key", "sign_in_with_wallet", "unlabelled"]


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


# WCAG 2.1 contrast (1.4.3, level AA): every element's own visible text against the background it is drawn on, at
# least 4.5:1, or 3:1 for large text (24 px, or 18.66 px bold). Semi-transparent backgrounds are blended over what
# lies beneath them. Charts are SVG and left out (each has a table of its figures).
LOW_CONTRAST_SCRIPT = """
const parse = (c) => { const m = /rgba?\\(([^)]+)\\)/.exec(c); if (!m) return null;
  const p = m[1].split(',').map(Number); return p.length === 3 ? [...p, 1] : p; };
const over = (top, under) => top.slice(0, 3).map((v, i) => v * top[3] + under[i] * (1 - top[3])).concat([1]);
const background = (el) => {
  if (!el) return [255, 255, 255, 1];
  const own = parse(getComputedStyle(el).backgroundColor);
  if (!own || own[3] === 0) return background(el.parentElement);
  return own[3] < 1 ? over(own, background(el.parentElement)) : own;
};
const lum = (c) => { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
  return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]); };
const found = [];
for (const el of document.querySelectorAll('body *')) {
  if (el.closest('svg')) continue;
  if (![...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim())) continue;
  const s = getComputedStyle(el);
  const box = el.getBoundingClientRect();
  if (s.visibility === 'hidden' || s.display === 'none' || box.width === 0 || box.height === 0) continue;
  const under = background(el);
  const fg = over(parse(s.color), under);
  const [a, b] = [lum(fg), lum(under)];
  const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
  const size = parseFloat(s.fontSize);
  const large = size >= 24 || (parseInt(s.fontWeight, 10) >= 700 && size >= 18.66);
  if (ratio < (large ? 3 : 4.5)) found.push(`${el.tagName.toLowerCase()}.${el.className}: `
    + `${ratio.toFixed(2)}:1 "${el.textContent.trim().slice(0, 40)}"`);
}
return found;
"""

UNLABELLED_SCRIPT = ("return [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]"
                     ".filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))"
                     ".map(e => e.outerHTML)")


def low_contrast(driver: WebDriver) -> list[str]:
    """The page's text below WCAG AA contrast, as `tag.class: ratio "text"`."""
    found: list[str] = driver.execute_script(LOW_CONTRAST_SCRIPT)
    return found


def unlabelled(driver: WebDriver) -> list[str]:
    """The page's form controls without a label (or aria-label)."""
    found: list[str] = driver.execute_script(UNLABELLED_SCRIPT)
    return found
