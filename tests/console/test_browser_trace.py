"""The trace pages in a real browser (`tests/console/browser.py`): a reading's proof checked by the browser itself
(Web Crypto's SHA-256, then an eth_call of MeterAnchor.verifyReading on the node interface the page proposes), a
tampered bundle failing that check, a report traced with every sampled proof checked, and an asset's lineage drawn
as a graph beside the table of its hops. Screenshots are named `t-...`."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tests.console.browser import By, WebDriver, WebDriverWait, shoot, sign_in_with_key
from tests.console.conftest import SECOND, YEAR, Park

CHECKS = ["leaf", "path", "node"]


def checked(driver: WebDriver, target: str) -> list[dict[str, Any]]:
    """Click the page's check button and wait for `target` (a CSS selector) to hold its results."""
    driver.find_element(By.ID, "check-in-browser").click()
    WebDriverWait(driver, 60).until(
        lambda d: d.find_element(By.ID, "browser-check").get_attribute("data-state") in ("pass", "fail"))
    results: list[dict[str, Any]] = driver.execute_script(
        "return [...document.querySelectorAll(arguments[0] + ' li[data-check]')].map(li => ({check: li.dataset.check,"
        " ok: li.dataset.ok === 'true', where: li.dataset.where, text: li.textContent}))", target)
    return results


def test_a_reading_proof_passes_in_the_browser_and_a_tampered_one_fails(park: Park, served: str, shots: Path,
                                                                       chrome: WebDriver):
    sign_in_with_key(chrome, served, park.keys["regulator"])
    chrome.get(f"{served}/console/enterprises/{SECOND}?year={YEAR}")
    chrome.find_element(By.CSS_SELECTOR, "a.trace-link").click()
    reading = chrome.find_element(By.CSS_SELECTOR, "#trace-readings tbody th a").get_attribute("href")
    chrome.get(reading)
    node = chrome.find_element(By.ID, "node-url").get_attribute("value")
    assert node == f"{served}/rpc"  # the service's own node interface, proposed
    results = checked(chrome, "#browser-proof")
    assert [(r["check"], r["ok"], r["where"]) for r in results] == [
        ("leaf", True, "browser"), ("path", True, "browser"), ("node", True, "node")]
    assert "ran in this browser" in results[0]["text"] and f"ran on the node at {node}" in results[2]["text"]
    assert "accepted: anchor" in results[2]["text"]
    assert chrome.find_element(By.ID, "check-status").text == "1 of 1 proofs passed every check."
    assert "Proof accepted by MeterAnchor.verifyReading" in chrome.find_element(By.ID, "chain-check").text
    shoot(chrome, shots, "t-01-reading-browser-proof")

    # The same page, its bundle altered on its way to the check (one mg more): the browser's hash says no, and so
    # does the chain.
    chrome.execute_script("""
        const original = window.fetch;
        window.fetch = async (url, options) => {
          const reply = await original(url, options);
          if (!String(url).endsWith('/proof.json')) return reply;
          const bundle = await reply.json();
          bundle.value_mg = bundle.record.value = String(BigInt(bundle.value_mg) + 1n);
          return new Response(JSON.stringify(bundle), {status: 200, headers: {'content-type': 'application/json'}});
        };""")
    results = checked(chrome, "#browser-proof")
    assert [(r["check"], r["ok"]) for r in results] == [("leaf", False), ("path", False), ("node", False)]
    assert "not the bundle's digest" in results[0]["text"]
    assert chrome.find_element(By.ID, "browser-check").get_attribute("data-state") == "fail"
    shoot(chrome, shots, "t-02-reading-tampered-fails")


def test_a_report_is_traced_with_every_proof_checked_here_and_an_asset_traced_hop_by_hop(
        park: Park, served: str, shots: Path, chrome: WebDriver):
    sign_in_with_key(chrome, served, park.keys["regulator"])
    chrome.get(f"{served}/console/enterprises/{SECOND}?year={YEAR}")
    chrome.find_element(By.CSS_SELECTOR, "a.trace-link").click()
    assert re.match(r"Report \d+: trace", chrome.find_element(By.TAG_NAME, "h1").text)
    rows = chrome.find_elements(By.CSS_SELECTOR, "#trace-readings .browser-result[data-proof-key]")
    assert rows
    checked(chrome, "#trace-readings")
    states = [r.get_attribute("data-state") for r in rows]
    assert states == ["pass"] * len(rows)
    for row in rows:
        marks = row.find_elements(By.CSS_SELECTOR, "li[data-check]")
        assert [(m.get_attribute("data-check"), m.get_attribute("data-where")) for m in marks] == [
            ("leaf", "browser"), ("path", "browser"), ("node", "node")]
    assert chrome.find_element(By.ID, "check-status").text == f"{len(rows)} of {len(rows)} proofs passed every check."
    shoot(chrome, shots, "t-03-report-trace")

    unlabelled = chrome.execute_script(
        "return [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]"
        ".filter(e => !(e.labels && e.labels.length)).map(e => e.outerHTML)")
    assert unlabelled == []
    width = chrome.get_window_size()["width"]
    chrome.set_window_size(800, 1000)
    assert chrome.execute_script("return document.documentElement.scrollWidth") <= 800  # wide tables scroll alone
    chrome.set_window_size(width, 1000)

    # A proof of the page's data block altered before the check: that row fails, the others still pass.
    chrome.execute_script("""
        const block = document.getElementById('trace-proofs');
        const proofs = JSON.parse(block.textContent);
        const first = Object.keys(proofs)[0];
        proofs[first].steps[0].sum = String(BigInt(proofs[first].steps[0].sum) + 1n);
        block.textContent = JSON.stringify(proofs);""")
    checked(chrome, "#trace-readings")
    states = [r.get_attribute("data-state") for r in rows]
    assert states[0] == "fail" and states[1:] == ["pass"] * (len(rows) - 1)

    # An asset, from the regulator's assets list: the graph and the table hold the same hops.
    chrome.get(f"{served}/console/")
    chrome.find_element(By.CSS_SELECTOR, 'a[href^="/console/assets?year="]').click()
    for listed in ("#vintage-list a", "#credit-list a", "#gec-list a", "#epd-list a"):
        assert chrome.find_elements(By.CSS_SELECTOR, listed), listed
    shoot(chrome, shots, "t-04-assets")
    chrome.find_element(By.CSS_SELECTOR, f'a[href="/console/assets/allowance/{YEAR}"]').click()
    lineage = json.loads(chrome.find_element(By.ID, "lineage-data").get_attribute("textContent"))
    svg = chrome.find_element(By.CSS_SELECTOR, "#lineage-graph svg")
    assert svg.get_attribute("aria-label") == (f"Lineage of Allowance vintage {YEAR}: {len(lineage['nodes'])} nodes, "
                                               f"{len(lineage['edges'])} hops")
    assert len(svg.find_elements(By.CSS_SELECTOR, "g.edge")) == len(lineage["edges"]) == len(
        chrome.find_elements(By.CSS_SELECTOR, "#hops-table tbody tr[data-edge]"))
    assert len(svg.find_elements(By.CSS_SELECTOR, "g.node")) == len(lineage["nodes"])
    trade = next(e for e in lineage["edges"] if e["kind"] == "trade")
    link = svg.find_element(By.CSS_SELECTOR, f'g.edge[data-edge="{trade["id"]}"] a')
    assert link.get_dom_attribute("href") == f"#tx-{trade['at']['tx_hash']}"  # to its row in the table
    chrome.execute_script("arguments[0].scrollIntoView()", link)
    link.click()
    assert chrome.current_url.endswith(f"#tx-{trade['at']['tx_hash']}")
    row = chrome.find_element(By.ID, f"tx-{trade['at']['tx_hash']}")
    assert row.find_elements(By.TAG_NAME, "td")[0].text == "trade"
    shoot(chrome, shots, "t-05-asset-lineage")
