"""The console's checking scripts in a real browser (Debian's headless Chromium, driven by Selenium): a reading's
proof checked by `proof.js` with Web Crypto and by an `eth_call` to `MeterAnchor.verifyReading` on the embedded
chain's node interface, asked cross-origin; and an asset's lineage drawn as SVG by `lineage.js`.

The page and the scripts are served by a small HTTP server of the test, the API (and its `/rpc`) by the service on
another port: the browser asks the node from another origin, as it would ask any node the user chooses."""

from __future__ import annotations

import copy
import functools
import re
import shutil
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from eth_utils import abi_to_signature, keccak
from fastapi.testclient import TestClient
from sqlalchemy import select

from ledger_core.chain.anvil import free_port
from ledger_core.db.models import Reading
from ledger_core.paths import REPO_ROOT
from ledger_service.runtime import Runtime
from oracles import merkle_sum as ms
from oracles.canonical import ReadingRecord, record_digest
from tests.service.cast import ENTERPRISE_A, YEAR, Cast
from tests.service.helpers import V1, allocate, transfer
from tests.service.metering import anchor, messages, push, set_up_park

SCRIPTS = REPO_ROOT / "ledger_service" / "console" / "static" / "js"
CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>checks</title></head>
<body><main id="graph"></main></body></html>"""


# ------------------------------------------------------------------ without a browser


def test_the_scripts_selector_is_meter_anchors_verify_reading(runtime: Runtime):
    source = (SCRIPTS / "proof.js").read_text()
    selector = re.search(r'VERIFY_READING_SELECTOR = "([0-9a-f]{8})"', source)
    signature = re.search(r'VERIFY_READING_SIGNATURE =\s*"([^"]+)" \+\s*"([^"]+)"', source)
    assert selector is not None and signature is not None
    abi = runtime.suite.contract("MeterAnchor").get_function_by_name("verifyReading").abi
    assert signature[1] + signature[2] == abi_to_signature(abi)
    assert keccak(text=abi_to_signature(abi))[:4].hex() == selector[1]


def test_the_embedded_node_answers_other_origins(client: TestClient):
    preflight = client.options("/rpc", headers={"Origin": "http://elsewhere.example", "Access-Control-Request-Method":
                                                "POST", "Access-Control-Request-Headers": "content-type"})
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert "POST" in preflight.headers["access-control-allow-methods"]
    assert preflight.headers["access-control-allow-headers"] == "content-type"
    answer = client.post("/rpc", json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"},
                         headers={"Origin": "http://elsewhere.example"})
    assert answer.headers["access-control-allow-origin"] == "*" and answer.json()["result"].startswith("0x")


# ------------------------------------------------------------------ in Chromium


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.skip("Debian's chromium and chromium-driver are not installed "
                    "(/usr/bin/chromium, /usr/bin/chromedriver)")
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install -e .[dev])")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                 "--window-size=1280,900"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_script_timeout(30)
    yield driver
    driver.quit()


@pytest.fixture
def page(tmp_path: Path) -> Iterator[str]:
    """The test page at `/` and the console's scripts under `/js/`, served from their own origin."""
    (tmp_path / "index.html").write_text(PAGE)
    shutil.copytree(SCRIPTS, tmp_path / "js")
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *args: None  # type: ignore[attr-defined]
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    thread.join(10)


@pytest.fixture
def node(served: str) -> str:
    """The embedded chain's node interface, on the service's port."""
    return f"{served}/rpc"


def run_module(browser: Any, page: str, script: str, *args: Any) -> Any:
    """Open the page and run `script` (a function body of `m`, the imported module name's exports, and `args`)."""
    browser.get(page)
    return browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "const args = Array.from(arguments).slice(0, -1);"
        f"import('/js/' + args[0]).then(async (m) => {{ {script} }})"
        ".then(done, (e) => done({error: String(e && e.stack || e)}));", *args)


def check(browser: Any, page: str, bundle: dict[str, Any], node_url: str, anchor_address: str) -> dict[str, Any]:
    result: dict[str, Any] = run_module(
        browser, page, "return m.checkProof(args[1], {nodeUrl: args[2], anchorAddress: args[3]});", "proof.js",
        bundle, node_url, anchor_address)
    assert "error" not in result, result.get("error")
    return result


def anchored_proof(client: TestClient, cast: Cast, runtime: Runtime) -> tuple[dict[str, Any], str]:
    """A reading's proof bundle as the API serves it, and MeterAnchor's address."""
    layout = set_up_park(client, cast, runtime)
    push(client, cast, "oracle", messages(layout, hours=1, org=ENTERPRISE_A))
    assert anchor(client, cast, ENTERPRISE_A).status_code == 200
    with runtime.sessions() as session:
        reading_id = session.scalars(select(Reading.id).order_by(Reading.id)).all()[5]
    reply = client.get(f"{V1}/meters/readings/{reading_id}/proof", headers=cast.auth("regulator"))
    assert reply.status_code == 200 and reply.json()["verified_on_chain"], reply.text
    address = client.get(f"{V1}/transactions/signing", headers=cast.auth("regulator")).json()[
        "contracts"]["MeterAnchor"]["address"]
    return reply.json(), address


def forged(bundle: dict[str, Any]) -> dict[str, Any]:
    """The bundle with one more mg in its reading and every hash above it recomputed: consistent in itself (the
    browser's checks pass), but for a root no anchor committed to."""
    out = copy.deepcopy(bundle)
    r = out["record"]
    record = ReadingRecord(bytes.fromhex(r["deviceId"][2:]), r["sequence"], r["timestamp"], r["quantity"], r["unit"],
                           r["carrier"], bytes.fromhex(r["factorSetId"][2:]), r["scope"], int(r["value"]) + 1)
    digest = record_digest(record)
    steps = [ms.Step(s["kind"], s["level"], bytes.fromhex(s["data"][2:]), int(s["sum"]), s["count"])
             for s in out["steps"]]
    node, subtotals = ms.fold(ms.leaf(digest, record.value), steps)
    r["value"] = out["value_mg"] = str(record.value)
    out["digest"] = "0x" + digest.hex()
    out["root"] = out["anchor_record"]["root"] = "0x" + node.hash.hex()
    out["anchor_record"]["total"] = str(node.sum)
    out["subtotals"] = [{**claim, "sum_mg": str(t.sum)} for claim, t in zip(out["subtotals"], subtotals, strict=True)]
    return out


def verdicts(result: dict[str, Any]) -> list[tuple[str, bool]]:
    return [(c["where"].split(" at ")[0], c["ok"]) for c in result["checks"]]


def test_a_proof_is_checked_in_the_browser_and_on_the_node_the_user_chose(
        browser: Any, page: str, node: str, client: TestClient, cast: Cast, runtime: Runtime):
    bundle, anchor_address = anchored_proof(client, cast, runtime)
    good = check(browser, page, bundle, node, anchor_address)
    assert good["ok"], good
    assert [(c["check"], c["where"], c["ok"]) for c in good["checks"]] == [
        ("reading record -> leaf digest (SHA-256)", "browser", True),
        ("Merkle-sum path -> anchored root (SHA-256)", "browser", True),
        ("MeterAnchor.verifyReading (eth_call)", f"node at {node}", True)]
    assert good["checks"][1]["detail"].startswith(f"root {bundle['root']}: ")
    assert good["checks"][2]["detail"].startswith(f"accepted: anchor {bundle['anchor_id']}, ")

    value = copy.deepcopy(bundle)
    value["value_mg"] = value["record"]["value"] = str(int(bundle["value_mg"]) + 1)
    result = check(browser, page, value, node, anchor_address)
    assert verdicts(result) == [("browser", False), ("browser", False), ("node", False)]
    assert "not the bundle's digest" in result["checks"][0]["detail"]

    sibling = copy.deepcopy(bundle)
    first = sibling["steps"][0]
    first["data"] = "0x" + ("00" if first["data"][2:4] != "00" else "11") + first["data"][4:]
    result = check(browser, page, sibling, node, anchor_address)
    assert verdicts(result) == [("browser", True), ("browser", False), ("node", False)]
    assert f"not the root {bundle['root']}" in result["checks"][1]["detail"]

    # A bundle consistent in itself but for another root: only the chain can tell.
    result = check(browser, page, forged(bundle), node, anchor_address)
    assert verdicts(result) == [("browser", True), ("browser", True), ("node", False)] and not result["ok"]
    assert result["checks"][2]["detail"].startswith("refused: ")

    unreachable = check(browser, page, bundle, f"http://127.0.0.1:{free_port()}/rpc", anchor_address)
    assert unreachable["checks"][2]["ok"] is False
    assert unreachable["checks"][2]["detail"].startswith("the node did not answer")


def test_a_lineage_is_drawn_as_svg_left_to_right_with_each_hop_linked_to_its_transaction(
        browser: Any, page: str, client: TestClient, cast: Cast):
    allocate(client, cast, {"enterprise_a": 100, "enterprise_b": 100}, year=YEAR)
    for sender, receiver, amount in (("enterprise_b", "trader", 10), ("trader", "enterprise_a2", 5)):
        assert transfer(client, cast, sender, receiver, amount, year=YEAR).status_code == 200
    lineage = client.get(f"{V1}/audit/assets/allowance/{YEAR}/lineage", headers=cast.auth("regulator")).json()
    drawn = run_module(browser, page, """
        const svg = m.renderLineage(document.getElementById('graph'), args[1], {
            txUrl: (hash) => '/tx/' + hash, unit: 'tCO2e'});
        const x = (id) => svg.querySelector(`g.node[data-node="${id}"]`).transform.baseVal[0].matrix.e;
        return {
            nodes: svg.querySelectorAll('g.node').length,
            edges: svg.querySelectorAll('g.edge').length,
            links: Array.from(svg.querySelectorAll('g.edge a'), (a) => a.getAttribute('href')),
            labels: Array.from(svg.querySelectorAll('g.edge text'), (t) => t.textContent),
            x: Object.fromEntries(args[1].nodes.map((n) => [n.id, x(n.id)])),
            label: svg.getAttribute('aria-label'),
        };""", "lineage.js", lineage)
    assert "error" not in drawn, drawn.get("error")
    assert (drawn["nodes"], drawn["edges"]) == (len(lineage["nodes"]), len(lineage["edges"])) == (5, 4)
    assert drawn["links"] == [f"/tx/{e['at']['tx_hash']}" for e in lineage["edges"]]
    assert drawn["labels"] == ["allocation 100 tCO2e", "allocation 100 tCO2e", "transfer 10 tCO2e",
                               "transfer 5 tCO2e"]
    x = drawn["x"]
    (allocation,) = [n["id"] for n in lineage["nodes"] if n["kind"] == "allocation"]
    a, b, trader, a2 = (f"account:{cast.addresses[n]}" for n in ("enterprise_a", "enterprise_b", "trader",
                                                                 "enterprise_a2"))
    assert x[allocation] < x[a] == x[b] < x[trader] < x[a2]  # each a layer to the right of where it came from
    assert drawn["label"] == f"allowance {YEAR}: 5 nodes, 4 hops"

    # An EPD's steps move no units: the edge reads its kind alone.
    at = lineage["edges"][0]["at"]
    epd = {"epd_id": 2, "nodes": [
        {"id": "epd:1", "kind": "epd", "label": "EPD 1", "first_block": 1, "holding": None},
        {"id": "epd:2", "kind": "epd", "label": "EPD 2", "first_block": 2, "holding": None}],
        "edges": [{"id": 0, "source": "epd:1", "target": "epd:2", "kind": "cited", "amount": None, "at": at}]}
    drawn = run_module(browser, page, """
        const svg = m.renderLineage(document.getElementById('graph'), args[1]);
        return [svg.querySelectorAll('g.node').length, svg.querySelector('g.edge text').textContent,
                svg.getAttribute('aria-label')];""", "lineage.js", epd)
    assert drawn == [2, "cited", "EPD 2: 2 nodes, 1 hops"]
