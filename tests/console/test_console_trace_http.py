"""The trace pages over plain HTTP (no browser needed): a report's trace, a reading's in-browser check, an asset's
and an EPD's lineage and the assets list. Each shows what the API's audit and meter endpoints give the same member
(the same use cases; the console's JSON is the API's answer), and refuses as they refuse."""

from __future__ import annotations

import json
import re
from html import unescape
from typing import Any

from fastapi.testclient import TestClient

from ledger_service.console.traces import node_choice
from tests.console.conftest import FIRST, SECOND, YEAR, Park
from tests.console.helpers import browser, sign_in_with_key

V1 = "/api/v1"


def signed_in(park: Park, actor: str) -> TestClient:
    client = browser(park.runtime)
    sign_in_with_key(client, park.keys[actor])
    return client


def report_of(client: TestClient, org_id: int) -> str:
    """The first report's trace page, as linked from the enterprise home."""
    home = client.get(f"/console/enterprises/{org_id}?year={YEAR}")
    found = re.search(r'class="trace-link" href="(/console/reports/\d+)"', home.text)
    assert found is not None, "the enterprise home links each report to its trace"
    return found.group(1)


def json_block(html: str, block_id: str) -> Any:
    found = re.search(rf'<script type="application/json" id="{block_id}">(.*?)</script>', html, re.S)
    assert found is not None, block_id
    return json.loads(found.group(1))


def api(park: Park, path: str) -> Any:
    reply = browser(park.runtime).get(f"{V1}{path}", headers={"Authorization": f"Bearer {park.keys['regulator']}"})
    assert reply.status_code == 200, reply.text
    return reply.json()


def test_signed_out_the_pages_send_to_sign_in_and_the_json_answers_401(park: Park):
    client = browser(park.runtime)
    for page in ("/console/reports/1", f"/console/assets/allowance/{YEAR}", "/console/assets",
                 "/console/epds/1/lineage"):
        reply = client.get(page)
        assert reply.status_code == 303 and reply.headers["location"].startswith("/console/sign-in?next="), page
    for data in ("/console/readings/1/proof.json", f"/console/assets/allowance/{YEAR}/lineage.json"):
        reply = client.get(data)
        assert (reply.status_code, reply.json()["error"]["code"]) == (401, "SignedOut"), data


def test_the_regulator_traces_a_report_with_each_readings_proof_for_the_browser(park: Park):
    client = signed_in(park, "regulator")
    page = client.get(report_of(client, SECOND))
    assert page.status_code == 200
    for section in ("versions-table", "commitment-facts", "anchors-table", "trace-readings", "where-checked"):
        assert f'id="{section}"' in page.text, section
    assert "Every check by the service passed" in page.text and "finalized" in page.text.lower()
    assert 'id="check-in-browser"' in page.text and "Check all in this browser" in page.text
    # Every sampled reading is a row whose proof the browser checks: the trace's own bundle, in a JSON data block.
    proofs = json_block(page.text, "trace-proofs")
    keys = re.findall(r'data-proof-key="(\d+)"', page.text)
    assert keys and sorted(keys) == sorted(proofs)
    for bundle in proofs.values():
        assert bundle["anchor_record"]["root"] == bundle["root"] and bundle["steps"] and bundle["record"]
    # The statement of which check ran where.
    where = re.search(r'<ul class="where-checked" id="where-checked">(.*?)</ul>', page.text, re.S)
    assert where is not None
    statements = [unescape(li).split(",")[0] for li in re.findall(r"<li>(.*?)</li>", where.group(1))]
    assert statements == ["Checked by the service", "Checked in this browser", "Checked on the node you choose"]
    assert client.get(f"{report_of(client, SECOND)}?readings=51").status_code == 422  # the API's bound


def test_the_reading_page_proposes_the_services_own_node_and_lets_the_browser_reach_another(park: Park):
    client = signed_in(park, "regulator")
    trace = client.get(report_of(client, SECOND))
    reading_id = re.findall(r'data-proof-key="(\d+)"', trace.text)[0]
    page = client.get(f"/console/readings/{reading_id}")
    assert page.status_code == 200
    assert "Proof accepted by MeterAnchor.verifyReading" in page.text  # the service's own result stays
    assert 'id="node-url" name="node" type="url"' in page.text and 'value="http://testserver/rpc"' in page.text
    anchor = park.runtime.deployment.addresses["MeterAnchor"]
    assert 'id="anchor-address" name="anchor"' in page.text and f'value="{anchor}"' in page.text
    assert f'data-proof-url="/console/readings/{reading_id}/proof.json"' in page.text
    policy = page.headers["content-security-policy"]
    assert "connect-src 'self' http: https:;" in policy  # the node the user types is not known in advance
    assert "script-src 'self';" in policy and "unsafe-inline" not in policy and "style-src 'self';" in policy
    other = client.get(f"/console/enterprises/{SECOND}?year={YEAR}")
    assert "connect-src 'self';" in other.headers["content-security-policy"]  # only the checking pages widen it


def test_the_consoles_proof_is_the_apis_bundle(park: Park):
    client = signed_in(park, "regulator")
    reading_id = re.findall(r'data-proof-key="(\d+)"', client.get(report_of(client, SECOND)).text)[0]
    reply = client.get(f"/console/readings/{reading_id}/proof.json")
    assert reply.status_code == 200 and reply.headers["cache-control"] == "no-store"
    assert reply.json() == api(park, f"/meters/readings/{reading_id}/proof")


def test_another_enterprise_is_refused_the_trace_and_the_proof(park: Park):
    regulator = signed_in(park, "regulator")
    report = report_of(regulator, SECOND)
    reading_id = re.findall(r'data-proof-key="(\d+)"', regulator.get(report).text)[0]
    client = signed_in(park, f"enterprise-{FIRST}")
    refused = client.get(report)
    assert refused.status_code == 403 and 'id="error-code">NotYourData<' in refused.text
    for page in (f"/console/readings/{reading_id}", f"/console/readings/{reading_id}/proof.json"):
        reply = client.get(page)
        assert reply.status_code == 403, page
    assert client.get(f"/console/readings/{reading_id}/proof.json").json()["error"]["code"] == "NotYourData"
    assert client.get(report_of(client, FIRST)).status_code == 200  # its own report opens
    assert client.get("/console/reports/999999").status_code == 404


def test_the_lineage_json_is_the_apis_and_the_page_lists_the_same_hops(park: Park):
    client = signed_in(park, "regulator")
    lineage = client.get(f"/console/assets/allowance/{YEAR}/lineage.json").json()
    assert lineage == api(park, f"/audit/assets/allowance/{YEAR}/lineage")
    assert set(lineage) == {"asset", "token_id", "issued", "outstanding", "nodes", "edges", "truncated"}
    assert lineage["edges"] and {e["kind"] for e in lineage["edges"]} >= {"allocation", "listing", "trade", "surrender"}
    page = client.get(f"/console/assets/allowance/{YEAR}")
    assert page.status_code == 200 and "Allowance vintage 2025" in page.text
    assert json_block(page.text, "lineage-data") == lineage  # drawn by lineage.js from a block CSP does not run
    assert len(re.findall(r'<tr[^>]* data-edge="\d+"', page.text)) == len(lineage["edges"])
    for edge in lineage["edges"]:  # each hop's transaction: the graph's links land on the table's rows
        assert f'id="tx-{edge["at"]["tx_hash"]}"' in page.text
    assert len(re.findall(r'<tr data-node="', page.text)) == len(lineage["nodes"])
    assert 'type="module" src="/console/static/js/lineage-page.js"' in page.text


def test_a_member_sees_the_hops_its_organisation_took_part_in(park: Park):
    everything = signed_in(park, "regulator").get(f"/console/assets/allowance/{YEAR}/lineage.json").json()
    client = signed_in(park, f"enterprise-{FIRST}")
    own = client.get(f"/console/assets/allowance/{YEAR}/lineage.json").json()
    assert 0 < len(own["edges"]) < len(everything["edges"])
    ours = {n["id"] for n in own["nodes"] if n["kind"] == "account" and n["org_id"] == FIRST}
    addresses = {n["address"] for n in own["nodes"] if n["id"] in ours}
    for edge in own["edges"]:  # each hop has the enterprise's account at one end (or sold from it)
        assert edge["source"] in ours or edge["target"] in ours or edge["seller"] in addresses, edge
    assert client.get(f"/console/assets/allowance/{YEAR}").status_code == 200
    unknown = client.get(f"/console/assets/shares/{YEAR}/lineage.json")
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "UnknownAsset")
    assert client.get(f"/console/assets/shares/{YEAR}").status_code == 404


def test_the_assets_list_opens_each_lineage_and_the_enterprise_home_links_to_them(park: Park):
    client = signed_in(park, "regulator")
    home = client.get("/console/")
    assert f'href="/console/assets?year={YEAR}"' in home.text or 'href="/console/assets?year=' in home.text
    assets = client.get(f"/console/assets?year={YEAR}")
    assert assets.status_code == 200
    links = re.findall(r'href="(/console/(?:assets/\w+/\d+|epds/\d+/lineage))"', assets.text)
    assert f"/console/assets/allowance/{YEAR}" in links
    assert any(link.startswith("/console/assets/credit/") for link in links)
    assert any(link.startswith("/console/assets/gec/") for link in links)
    epds = [link for link in links if link.startswith("/console/epds/")]
    assert epds
    for link in (links[0], next(x for x in links if "/credit/" in x), next(x for x in links if "/gec/" in x), epds[0]):
        page = client.get(link)
        assert page.status_code == 200 and 'id="hops-table"' in page.text, link
    epd = client.get(epds[0] + ".json").json()
    assert set(epd) == {"epd_id", "nodes", "edges"} and epd["edges"]
    assert client.get(epds[0] + ".json").json() == api(park, "/audit" + epds[0].removeprefix("/console"))
    # The enterprise homes' holdings link to their lineage (the demo's enterprises hold credits, not allowances,
    # once the year is surrendered).
    homes = "".join(client.get(f"/console/enterprises/{org}?year={YEAR}").text for org in range(FIRST, FIRST + 5))
    assert re.search(r'<td><a href="/console/assets/credit/\d+">Batch \d+</a>', homes)
    assert "/console/assets" not in signed_in(park, f"enterprise-{FIRST}").get("/console/").text


def test_the_node_proposed_is_the_public_one_the_services_own_rpc_or_the_node_without_anything_secret():
    anchor = "0x" + "ab" * 20
    assert node_choice("embedded", "https://ledger.example", anchor).url == "https://ledger.example/rpc"
    assert node_choice("embedded", "https://ledger.example", anchor).own
    # A provider's key may sit in the credentials, the path or the query: only scheme, host and port are shown.
    configured = node_choice("https://user:secret@node.example:8545/v3/KEY?key=x", "https://ledger.example", anchor)
    assert (configured.url, configured.own, configured.anchor) == ("https://node.example:8545", False, anchor)
    public = node_choice("https://user:secret@node.example/v3/KEY", "https://l.example", anchor, "https://rpc.example")
    assert (public.url, public.own) == ("https://rpc.example", False)


def test_the_trace_pages_speak_chinese_with_their_units(park: Park):
    client = signed_in(park, "regulator")
    report = report_of(client, SECOND)
    client.cookies.set("cl_lang", "zh-CN", path="/console")
    page = client.get(report)
    assert '<html lang="zh-CN">' in page.text and re.search(r"<h1>报告 \d+ 的追溯</h1>", page.text)
    assert "在本浏览器中全部核验" in page.text and "tCO2e" in page.text and "kgCO2e" in page.text
    assert 'data-where-node="在节点 {url} 上运行"' in page.text  # the script's words, from the catalogue
    lineage = client.get(f"/console/assets/allowance/{YEAR}")
    assert f"流转图谱\uff1a{YEAR} 年度配额" in lineage.text and "分配" in lineage.text and "tCO2e" in lineage.text
