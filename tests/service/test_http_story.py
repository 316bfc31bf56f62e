"""A compliance year told only through the HTTP API, each actor with its own API key.

Starting from the bootstrap regulator's key, the regulator registers a park, its two enterprises, a
verification body, a trading firm, a metering operator and a settlement bank, admits one custodial member
to each and issues their keys. The enterprises register their meters; the regulator authorises the
oracle, which pushes signed readings and anchors them hourly. Each enterprise submits its report with the
document, the verifier verifies it and the regulator finalizes it. Allowances are allocated, transferred
and traded on the market (paid in the bank's settlement token); an offset-credit project is verified,
its batch issued, transferred, partly retired with a certificate; the enterprises surrender allowances
and credits (within the cap) and end the year with no shortfall.

Then the audit: the report down to readings whose proofs MeterAnchor accepts (asked by the test itself
as well), the allowance vintage and the credit batch hop by hop with the transaction, block and time of
every step the story took, the park drilled down to its devices with totals equal to the anchored
roots, the index reconciled with the chain, and finally an index row edited in SQL caught by the
reconciliation.

The only things not done over HTTP are preparing the input (the devices' signed messages) and the
independent checks against the chain and the database.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from ledger_core.db.models import ChainBalance
from ledger_service.runtime import Runtime
from oracles.anchor_records import AnchorReader
from oracles.simulator import ParkLayout, simulate_messages, simulate_park
from oracles.sources import MessageIn
from tests.service.helpers import V1
from tests.service.metering import clear_meter_data

YEAR = 2025
START = 1_743_465_600  # 2025-04-01T00:00:00Z: two hours of one-minute readings from here
HOUR = 3600
PARK, RIVERSIDE, EASTERN, CERTA, HARBOUR, METERING, BANK = 100, 101, 102, 103, 104, 105, 106
ORGANISATIONS = (
    (PARK, 0, "park", "Jade River Industrial Park"),
    (RIVERSIDE, PARK, "enterprise", "Riverside Steel"),
    (EASTERN, PARK, "enterprise", "Eastern Cement"),
    (CERTA, 0, "verification_body", "Certa Verification"),
    (HARBOUR, 0, "trading_firm", "Harbour Carbon Trading"),
    (METERING, 0, "operator", "Park Metering Services"),
    (BANK, 0, "bank", "Jade River Settlement Bank"),
)
# actor -> (organisation, role)
ACTORS = {
    "riverside": (RIVERSIDE, "ENTERPRISE"),
    "eastern": (EASTERN, "ENTERPRISE"),
    "verifier": (CERTA, "VERIFIER"),
    "trader": (HARBOUR, "TRADER"),
    "oracle": (METERING, "ORACLE"),
    "bank": (BANK, "SETTLEMENT_BANK"),
}
ENTERPRISES = {RIVERSIDE: "riverside", EASTERN: "eastern"}
# Two devices each in the simulated park (seed 78), both enterprises measuring stack CO2 directly; two hours
# of their readings make these obligations (whole tonnes, rounded half up from the anchored mgCO2e).
OBLIGATIONS = {RIVERSIDE: 77, EASTERN: 31}
ALLOCATIONS = {"riverside": 50, "eastern": 100}
CREDIT_PERIOD = (1_704_067_200, 1_735_689_599)  # 2024
ZERO = "0x" + "00" * 20  # minted from, burned to


@dataclass
class Story:
    """The HTTP client, every actor's key and address, and what the story did (the API's answers)."""

    client: TestClient
    tokens: dict[str, str]
    addresses: dict[str, str] = field(default_factory=dict)
    tx: dict[str, dict[str, Any]] = field(default_factory=dict)
    park: ParkLayout | None = None
    anchors: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    reports: dict[int, int] = field(default_factory=dict)
    documents: dict[int, bytes] = field(default_factory=dict)
    order_id: int = 0
    batch_id: int = 0
    retirement: dict[str, Any] = field(default_factory=dict)

    def call(self, actor: str, method: str, path: str, expect: int = 200, **kwargs: Any) -> Any:
        """A request as `actor`; the answer must have status `expect`. The JSON body."""
        reply = self.client.request(method, V1 + path, headers={"Authorization": f"Bearer {self.tokens[actor]}"},
                                    **kwargs)
        assert reply.status_code == expect, (method, path, reply.status_code, reply.text)
        return reply.json() if reply.headers.get("content-type", "").startswith("application/json") else reply

    def mined(self, name: str, tx: dict[str, Any], contract: str, function: str, signer: str) -> None:
        """Keep a transaction the API answered, after checking it is the expected one and mined."""
        assert (tx["status"], tx["contract"], tx["function"], tx["signer"]) == (
            "mined", contract, function, self.addresses[signer]), tx
        assert tx["tx_hash"].startswith("0x") and tx["block_number"] > 0 and tx["error"] is None
        self.tx[name] = tx


@pytest.fixture
def story(client: TestClient, runtime: Runtime) -> Iterator[Story]:
    """The story starts with the bootstrap regulator's API key; its meter data and documents go with it."""
    assert runtime.bootstrap_api_key is not None and runtime.bootstrap_regulator is not None
    told = Story(client, {"regulator": runtime.bootstrap_api_key.token}, {"regulator": runtime.bootstrap_regulator})
    try:
        yield told
    finally:
        clear_meter_data(runtime)


# ------------------------------------------------------------------ chapters


def admit_the_park(s: Story) -> None:
    """Organisations registered, one custodial member admitted to each, an API key issued to each."""
    for org_id, parent, kind, name in ORGANISATIONS:
        body = s.call("regulator", "POST", "/organisations", 201,
                      json={"org_id": org_id, "parent_id": parent, "kind": kind, "name": name})
        assert body["organisation"] == {"org_id": org_id, "parent_id": parent, "kind": kind, "name": name}
        s.mined(f"org {org_id}", body["transaction"], "Membership", "registerOrganisation", "regulator")
    hierarchy = s.call("regulator", "GET", f"/organisations/{PARK}/hierarchy")
    assert [c["organisation"]["name"] for c in hierarchy["descendants"]] == ["Riverside Steel", "Eastern Cement"]

    for actor, (org_id, role) in ACTORS.items():
        body = s.call("regulator", "POST", "/members", 201,
                      json={"org_id": org_id, "roles": [role], "custodial": True})
        member = body["member"]
        assert (member["org_id"], member["roles"], member["status"], member["frozen"], member["custodial"]) == (
            org_id, [role], "active", False, True)
        s.addresses[actor] = member["address"]
        s.mined(f"admit {actor}", body["transaction"], "Membership", "admit", "regulator")
        key = s.call("regulator", "POST", "/api-keys", 201, json={"member": member["address"], "label": actor})
        assert key["member"] == member["address"] and key["token"] and key["key_id"]
        s.tokens[actor] = key["token"]

    for actor, (org_id, role) in ACTORS.items():  # each key speaks for its own member
        me = s.call(actor, "GET", f"/members/{s.addresses[actor]}")
        assert (me["address"], me["org_id"], me["roles"], me["custodial"]) == (s.addresses[actor], org_id, [role],
                                                                               True)
    keys = s.call("regulator", "GET", "/api-keys", params={"member": s.addresses["oracle"]})
    assert [(k["label"], k["issued_by"]) for k in keys["items"]] == [("oracle", s.addresses["regulator"])]
    refused = s.call("riverside", "POST", "/api-keys", 403, json={"member": s.addresses["riverside"]})
    assert refused["error"] == "MissingRole"


def allocate(s: Story) -> None:
    grants = [{"holder": s.addresses[a], "amount": n} for a, n in ALLOCATIONS.items()]
    tx = s.call("regulator", "POST", "/allowances/allocations", json={"year": YEAR, "allocations": grants})
    s.mined("allocate", tx, "AllowanceRegistry", "allocate", "regulator")
    for actor, amount in ALLOCATIONS.items():
        held = s.call(actor, "GET", f"/allowances/balances/{s.addresses[actor]}", params={"years": [YEAR]})
        assert held == {"address": s.addresses[actor], "balances": {str(YEAR): amount}}


def meter_the_park(s: Story) -> None:
    """Devices registered by their enterprises, the oracle authorised, signed readings pushed and anchored."""
    s.park = park = simulate_park(enterprises=2, devices_per_enterprise=2, seed=78, park_org_id=PARK,
                                  first_enterprise_org_id=RIVERSIDE)
    for d in park.devices:
        owner = ENTERPRISES[d.enterprise_org_id]
        body = s.call(owner, "POST", "/meters/devices", 201, json={
            "device_id": d.device_id, "enterprise_org_id": d.enterprise_org_id, "facility": d.facility,
            "workshop": d.workshop, "public_key": d.public_key.hex()})
        device = body["device"]
        assert (device["device_id"], device["enterprise_org_id"], device["active"], device["public_key"]) == (
            d.device_id, d.enterprise_org_id, True, d.public_key.hex())
        s.mined(f"device {d.device_id}", body["transaction"], "MeterAnchor", "registerDevice", owner)
    listed = s.call("riverside", "GET", "/meters/devices", params={"enterprise_org_id": RIVERSIDE})
    assert [x["device_id"] for x in listed["devices"]] == [d.device_id for d in park.devices
                                                         if d.enterprise_org_id == RIVERSIDE]
    assert s.call("eastern", "GET", "/meters/devices", 403, params={"enterprise_org_id": RIVERSIDE})["error"] == (
        "NotYourData")

    messages = [MessageIn.of(m).model_dump() for m in simulate_messages(park, START, 120, readings_per_message=60)]
    refused = s.call("oracle", "POST", "/meters/messages", 403, json={"messages": messages})
    assert refused["error"] == "NotYourDevice"  # not yet authorised for either enterprise
    for org_id in ENTERPRISES:
        body = s.call("regulator", "POST", f"/meters/enterprises/{org_id}/oracles",
                      json={"oracle": s.addresses["oracle"]})
        assert body["authorisation"] == {"oracle": s.addresses["oracle"], "enterprise_org_id": org_id,
                                         "authorised": True}
        s.mined(f"authorise {org_id}", body["transaction"], "MeterAnchor", "setOracleAuthorisation", "regulator")
    pushed = s.call("oracle", "POST", "/meters/messages", json={"messages": messages})
    assert (pushed["messages"], pushed["accepted"], pushed["quarantined"]) == (8, 4 * 120, {})

    for org_id in ENTERPRISES:
        body = s.call("oracle", "POST", f"/meters/enterprises/{org_id}/anchoring")
        assert (body["enterprise_org_id"], body["built"]) == (org_id, 2)
        windows = body["windows"]
        assert [(w["window_start"], w["window_end"], w["action"]) for w in windows] == [
            (START, START + HOUR, "anchored"), (START + HOUR, START + 2 * HOUR, "anchored")]
        assert all(w["tx_hash"] and w["anchor_id"] and w["error"] is None for w in windows)
        s.anchors[org_id] = [s.call(ENTERPRISES[org_id], "GET", f"/meters/anchors/{w['anchor_id']}")
                             for w in windows]
        for window, anchor in zip(windows, s.anchors[org_id], strict=True):
            assert (anchor["root"], anchor["oracle"], anchor["reading_count"], anchor["tx_hash"]) == (
                window["root"], s.addresses["oracle"], 120, window["tx_hash"])
    again = s.call("oracle", "POST", f"/meters/enterprises/{RIVERSIDE}/anchoring")
    assert (again["built"], again["windows"]) == (0, [])


def report_the_year(s: Story) -> None:
    """Each enterprise reports its anchored emissions with the document; verified and finalized."""
    for org_id, actor in ENTERPRISES.items():
        anchored_mg = sum(int(a["total_mg"]) for a in s.anchors[org_id])
        reported_kg = (anchored_mg + 500_000) // 1_000_000
        document = f"{actor}: annual emission report {YEAR}, {reported_kg} kgCO2e\n".encode()
        s.documents[org_id] = document
        body = s.call(actor, "POST", "/emissions/reports", 201,
                      files={"document": (f"{actor}-{YEAR}.txt", document, "text/plain")},
                      data={"year": YEAR, "reported_kg_co2e": reported_kg})
        report, commitment = body["report"], body["commitment"]
        assert commitment["source"] == "anchors"
        assert commitment["anchor_ids"] == [a["anchor_id"] for a in s.anchors[org_id]]
        assert (int(commitment["anchored_mg"]), commitment["reading_count"]) == (anchored_mg, 240)
        assert (report["org_id"], report["year"], report["status"], report["reported_kg_co2e"]) == (
            org_id, YEAR, "submitted", str(reported_kg))
        assert report["document_hash"] == "0x" + hashlib.sha256(document).hexdigest()
        assert report["anchors_root"] == commitment["anchors_root"] and report["documents"]["report"] is True
        s.reports[org_id] = report_id = report["report_id"]
        s.mined(f"submit {org_id}", body["transaction"], "EmissionRegistry", "submitReport", actor)

        kept = s.call("verifier", "GET", f"/emissions/reports/{report_id}/documents/report")
        assert kept.content == document and kept.headers["X-Document-SHA256"] == report["document_hash"]
        assert s.call("trader", "GET", f"/emissions/reports/{report_id}", 403)["error"] == "NotYourData"
        refused = s.call("regulator", "POST", f"/emissions/reports/{report_id}/finalization", 409)
        assert refused["error"] == "InvalidReportStatus"  # not verified yet

        body = s.call("verifier", "POST", f"/emissions/reports/{report_id}/verification",
                      files={"statement": ("statement.txt", f"verified {reported_kg} kg".encode())},
                      data={"verified_kg_co2e": reported_kg})
        assert (body["report"]["status"], body["report"]["verifier"], body["report"]["verified_kg_co2e"]) == (
            "verified", s.addresses["verifier"], str(reported_kg))
        s.mined(f"verify {org_id}", body["transaction"], "EmissionRegistry", "verifyReport", "verifier")

        body = s.call("regulator", "POST", f"/emissions/reports/{report_id}/finalization")
        assert (body["report"]["status"], body["report"]["obligation_tonnes"]) == ("finalized", OBLIGATIONS[org_id])
        assert OBLIGATIONS[org_id] == (reported_kg + 500) // 1000
        s.mined(f"finalize {org_id}", body["transaction"], "EmissionRegistry", "finalizeReport", "regulator")

    notarized = s.call("riverside", "POST", "/notary/documents", 201,
                       files={"document": ("report.txt", s.documents[RIVERSIDE])}, data={"kind": "EMISSION_REPORT"})
    assert notarized["record"]["document_hash"] == "0x" + hashlib.sha256(s.documents[RIVERSIDE]).hexdigest()
    assert (notarized["record"]["notary"], notarized["record"]["org_id"]) == (s.addresses["riverside"], RIVERSIDE)
    s.mined("notarize", notarized["transaction"], "Notary", "notarize", "riverside")


def trade(s: Story) -> None:
    """Eastern passes surplus allowances to the trader, who sells them to Riverside on the market."""
    tx = s.call("eastern", "POST", "/allowances/transfers",
                json={"to": s.addresses["trader"], "year": YEAR, "amount": 40})
    s.mined("transfer", tx, "AllowanceRegistry", "safeTransferFrom", "eastern")

    tx = s.call("regulator", "POST", "/market/reference-prices",
                json={"asset": "allowance", "token_id": YEAR, "price": "60.00"})
    s.mined("reference price", tx, "CarbonMarket", "setReferencePrice", "regulator")
    tx = s.call("bank", "POST", "/settlement/mint", json={"to": s.addresses["riverside"], "amount": "5000.00"})
    s.mined("mint", tx, "SettlementToken", "mint", "bank")
    assert s.call("riverside", "GET", f"/settlement/balances/{s.addresses['riverside']}")["balance"] == "5000.00"

    now = utc(s.call("trader", "GET", f"/market/books/allowance/{YEAR}")["as_of"])
    expiry = (now + timedelta(days=1)).isoformat()
    too_dear = s.call("trader", "POST", "/market/orders", 409, json={
        "asset": "allowance", "token_id": YEAR, "amount": 30, "price": "70.00", "expiry": expiry})
    assert too_dear["error"] == "PriceOutOfBand"
    body = s.call("trader", "POST", "/market/orders", 201, json={
        "asset": "allowance", "token_id": YEAR, "amount": 30, "price": "61.50", "expiry": expiry})
    order = body["order"]
    assert (order["seller"], order["asset"], order["token_id"], order["amount"], order["remaining"], order["price"],
            order["status"]) == (s.addresses["trader"], "allowance", YEAR, 30, 30, "61.50", "open")
    s.order_id = order["order_id"]
    s.mined("list", body["transactions"][-1], "CarbonMarket", "list", "trader")

    body = s.call("riverside", "POST", f"/market/orders/{s.order_id}/fill", json={"amount": 30})
    assert (body["order"]["remaining"], body["order"]["status"]) == (0, "filled")
    assert [t["function"] for t in body["transactions"]] == ["approve", "fill"]
    s.mined("fill", body["transactions"][-1], "CarbonMarket", "fill", "riverside")

    trades = s.call("riverside", "GET", f"/market/trades/allowance/{YEAR}")
    assert [(t["order_id"], t["seller"], t["buyer"], t["amount"], t["price"], t["payment"], t["tx_hash"])
            for t in trades["items"]] == [(s.order_id, s.addresses["trader"], s.addresses["riverside"], 30, "61.50",
                                           "1845.00", s.tx["fill"]["tx_hash"])]
    trades = s.call("eastern", "GET", f"/market/trades/allowance/{YEAR}")  # not a party: no names
    assert [(t["seller"], t["buyer"], t["amount"], t["price"], t["tx_hash"]) for t in trades["items"]] == [
        (None, None, 30, "61.50", None)]
    assert s.call("trader", "GET", f"/settlement/balances/{s.addresses['trader']}")["balance"] == "1845.00"
    assert s.call("riverside", "GET", f"/settlement/balances/{s.addresses['riverside']}")["balance"] == "3155.00"
    held = s.call("riverside", "GET", f"/allowances/balances/{s.addresses['riverside']}", params={"years": [YEAR]})
    assert held["balances"] == {str(YEAR): ALLOCATIONS["riverside"] + 30}


def offset_credits(s: Story) -> None:
    """The trader's wind project verified and issued; credits passed to Riverside; some retired."""
    body = s.call("regulator", "POST", "/credits/projects", 201, json={
        "code": "CCER-2024-WIND-JADE", "owner": s.addresses["trader"], "methodology": "CCER-14-001-V01",
        "document": "project design document v2", "location": "CN-GS"})
    project = body["project"]
    assert (project["owner"], project["status"], project["methodology"]) == (
        s.addresses["trader"], "active", "CCER-14-001-V01")
    s.mined("project", body["transaction"], "CreditRegistry", "registerProject", "regulator")
    project_id = project["project_id"]

    tx = s.call("verifier", "POST", f"/credits/projects/{project_id}/verifications", json={
        "period_start": CREDIT_PERIOD[0], "period_end": CREDIT_PERIOD[1], "verified_tonnes": 500,
        "statement": "wind farm monitoring report 2024, verified"})
    s.mined("credit verification", tx, "CreditRegistry", "submitVerification", "verifier")

    body = s.call("regulator", "POST", "/credits/batches", 201, json={
        "project_id": project_id, "period_start": CREDIT_PERIOD[0], "period_end": CREDIT_PERIOD[1],
        "vintage": 2024, "amount": 500})
    batch = body["batch"]
    assert (batch["project_id"], batch["vintage"], batch["amount"]) == (project_id, 2024, 500)
    assert batch["serial_end"] - batch["serial_start"] == 499
    s.batch_id = batch["batch_id"]
    s.mined("issue", body["transaction"], "CreditRegistry", "issueBatch", "regulator")
    twice = s.call("regulator", "POST", "/credits/batches", 409, json={
        "project_id": project_id, "period_start": CREDIT_PERIOD[0], "period_end": CREDIT_PERIOD[1],
        "vintage": 2024, "amount": 500})
    assert twice["error"] == "PeriodAlreadyIssued"

    tx = s.call("trader", "POST", "/credits/transfers",
                json={"to": s.addresses["riverside"], "batch_id": s.batch_id, "amount": 10})
    s.mined("credit transfer", tx, "CreditRegistry", "safeTransferFrom", "trader")

    body = s.call("trader", "POST", "/credits/retirements", 201, json={
        "batch_id": s.batch_id, "amount": 100, "beneficiary": "Harbour Logistics", "purpose": "2024 business travel",
        "jurisdiction": "CN", "consumption_start": CREDIT_PERIOD[0], "consumption_end": CREDIT_PERIOD[1]})
    certificate = body["certificate"]
    s.mined("retire", body["transaction"], "CreditRegistry", "retire", "trader")
    assert (certificate["holder"], certificate["amount"], certificate["beneficiary"], certificate["vintage"]) == (
        s.addresses["trader"], 100, "Harbour Logistics", 2024)
    assert certificate["serial_end"] - certificate["serial_start"] == 99
    assert (certificate["tx_hash"], certificate["block_number"]) == (s.tx["retire"]["tx_hash"],
                                                                     s.tx["retire"]["block_number"])
    s.retirement = certificate
    path = f"/credits/retirements/{certificate['retirement_id']}"
    assert s.call("trader", "GET", path) == certificate
    page = s.call("regulator", "GET", f"{path}/certificate.html")
    assert page.headers["content-type"].startswith("text/html")
    for text in ("Harbour Logistics", "100 tCO2e", f"{certificate['serial_start']} to {certificate['serial_end']}",
                 certificate["tx_hash"], "The registry&#x27;s record matches this certificate."):
        assert text in page.text, text
    assert s.call("riverside", "GET", path, 403)["error"] == "NotYourData"
    holdings = s.call("riverside", "GET", f"/credits/holdings/{s.addresses['riverside']}")
    assert [(h["batch_id"], h["amount"]) for h in holdings["holdings"]] == [(s.batch_id, 10)]


def surrender(s: Story) -> None:
    """The compliance window opens; Riverside surrenders credits up to the cap and allowances for the rest,
    Eastern allowances only. No shortfall is left."""
    early = s.call("eastern", "POST", "/allowances/surrenders", 409,
                   json={"compliance_year": YEAR, "vintages": [{"year": YEAR, "amount": 1}]})
    assert early["error"] == "ComplianceWindowNotOpen"
    assert s.call("eastern", "GET", f"/compliance/windows/{YEAR}") == {"year": YEAR, "open": False}
    body = s.call("regulator", "POST", f"/compliance/windows/{YEAR}/open")
    assert body["window"] == {"year": YEAR, "open": True}
    s.mined("open window", body["transaction"], "ComplianceLedger", "openComplianceWindow", "regulator")

    cap = OBLIGATIONS[RIVERSIDE] * 5 // 100
    over = s.call("riverside", "POST", "/credits/surrenders", 409,
                  json={"batch_id": s.batch_id, "amount": cap + 1, "compliance_year": YEAR})
    assert over["error"] == "CreditCapExceeded" and over["args"]["remainingCap"] == cap
    tx = s.call("riverside", "POST", "/credits/surrenders",
                json={"batch_id": s.batch_id, "amount": cap, "compliance_year": YEAR})
    s.mined("credit surrender", tx, "CreditRegistry", "surrender", "riverside")
    for org_id, actor in ENTERPRISES.items():
        due = OBLIGATIONS[org_id] - (cap if org_id == RIVERSIDE else 0)
        tx = s.call(actor, "POST", "/allowances/surrenders",
                    json={"compliance_year": YEAR, "vintages": [{"year": YEAR, "amount": due}]})
        s.mined(f"surrender {org_id}", tx, "AllowanceRegistry", "surrender", actor)

    status = s.call("verifier", "GET", f"/compliance/parks/{PARK}/{YEAR}")
    assert status["park"] == {"org_id": PARK, "year": YEAR, "obligation": sum(OBLIGATIONS.values()),
                              "allowances_surrendered": sum(OBLIGATIONS.values()) - cap,
                              "credits_surrendered": cap, "shortfall": 0, "finalized": True}
    assert [(e["org_id"], e["obligation"], e["credits_surrendered"], e["shortfall"], e["finalized"])
            for e in status["enterprises"]] == [(RIVERSIDE, OBLIGATIONS[RIVERSIDE], cap, 0, True),
                                                (EASTERN, OBLIGATIONS[EASTERN], 0, 0, True)]
    own = s.call("riverside", "GET", f"/compliance/enterprises/{RIVERSIDE}/{YEAR}")
    assert own == status["enterprises"][0]


# ------------------------------------------------------------------ the audit


def utc(text: str) -> datetime:
    when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    assert when.utcoffset() == timedelta(0), text
    return when


def block_time(runtime: Runtime, block: int) -> int:
    return int(runtime.chain.request(lambda: runtime.chain.w3.eth.get_block(block))["timestamp"])


def same_transaction(runtime: Runtime, at: dict[str, Any], tx: dict[str, Any]) -> bool:
    """An audited step names the transaction the API answered: hash, block and the block's time."""
    return (at["tx_hash"], at["block_number"], int(utc(at["block_time"]).timestamp())) == (
        tx["tx_hash"], tx["block_number"], block_time(runtime, tx["block_number"]))


def trace_the_report(s: Story, runtime: Runtime) -> None:
    report_id = s.reports[RIVERSIDE]
    trace = s.call("riverside", "GET", f"/audit/reports/{report_id}/trace",
                   params={"readings": 4, "verify_on_chain": True})
    assert trace["verified"] is True and (trace["org_id"], trace["year"]) == (RIVERSIDE, YEAR)
    (version,) = trace["versions"]
    assert (version["status"], version["document_hash"]) == (
        "finalized", "0x" + hashlib.sha256(s.documents[RIVERSIDE]).hexdigest())
    steps = version["steps"]
    assert [(x["kind"], x["actor"]) for x in steps] == [
        ("submitted", s.addresses["riverside"]), ("verified", s.addresses["verifier"]),
        ("finalized", s.addresses["regulator"])]
    for x, name in zip(steps, ("submit", "verify", "finalize"), strict=True):
        assert same_transaction(runtime, x["at"], s.tx[f"{name} {RIVERSIDE}"]), (x, name)
    assert steps[-1]["obligation_tonnes"] == OBLIGATIONS[RIVERSIDE]

    anchors = s.anchors[RIVERSIDE]
    assert trace["commitment"]["matches"] and trace["commitment"]["anchor_ids"] == [a["anchor_id"] for a in anchors]
    assert trace["commitment"]["committed_mg"] == sum(int(a["total_mg"]) for a in anchors)
    assert [(a["anchor_id"], a["root"], a["at"]["tx_hash"], a["sql_matches"], a["oracle"]) for a in trace["anchors"]] \
        == [(a["anchor_id"], a["root"], a["tx_hash"], True, s.addresses["oracle"]) for a in anchors]

    assert len(trace["readings"]) == 4
    # One reader of MeterAnchor's events for the four readings, from the story's first transaction on (no anchor
    # of the story is older): the embedded chain reads every block and receipt of a range, once per scan.
    first_block = min(tx["block_number"] for tx in s.tx.values())
    reader = AnchorReader(runtime.suite.contract("MeterAnchor"), read_all=True, from_block=first_block)
    for reading in trace["readings"]:
        assert reading["proof_valid"] is True and reading["verified_on_chain"] is True
        assert [t["level"] for t in reading["subtotals"]] == ["device", "workshop", "facility", "enterprise"]
        assert reading["subtotals"][0]["label"] == reading["device_id"]
        assert reading["subtotals"][-1]["label"] == str(RIVERSIDE)
        proof = reading["proof"]
        assert proof["anchor_id"] == reading["anchor_id"] and int(proof["value_mg"]) == reading["value_mg"]
        # The chain's own answer, asked by the test with the anchor's record read from the chain's events: the
        # proof folds into the anchored root (and the trace carries that record).
        steps_abi = [(p["kind"], p["level"], bytes.fromhex(p["data"][2:]), int(p["sum"]), p["count"])
                     for p in proof["steps"]]
        anchored = reader.window(proof["anchor_id"])
        assert anchored is not None and proof["anchor_record"]["root"] == "0x" + anchored.record.root.hex()
        valid, subtotals = runtime.chain.request(lambda proof=proof, steps=steps_abi, w=anchored: runtime.suite.call(
            "MeterAnchor", "verifyReading", *w.proof_args(), bytes.fromhex(proof["digest"][2:]),
            int(proof["value_mg"]), steps))
        assert valid is True
        assert [int(t[2]) for t in subtotals] == [int(t["sum_mg"]) for t in reading["subtotals"]]
        # The same reading through the meters API.
        single = s.call("verifier", "GET", f"/meters/readings/{reading['reading_id']}/proof")
        assert (single["verified_on_chain"], single["digest"], single["root"]) == (True, proof["digest"],
                                                                                   proof["root"])

    assert s.park is not None
    assert {d["device_id"] for d in trace["devices"]} == {d.device_id for d in s.park.devices
                                                          if d.enterprise_org_id == RIVERSIDE}
    for d in trace["devices"]:
        assert d["active_on_chain"] is True
        assert same_transaction(runtime, d["registered"], s.tx[f"device {d['device_id']}"])
    (notarized,) = trace["notarizations"]
    assert notarized["document_hash"] == version["document_hash"]
    assert same_transaction(runtime, notarized["at"], s.tx["notarize"])

    assert s.call("eastern", "GET", f"/audit/reports/{report_id}/trace", 403)["error"] == "NotYourData"


def trace_the_assets(s: Story, runtime: Runtime) -> None:
    a, b, trader = s.addresses["riverside"], s.addresses["eastern"], s.addresses["trader"]
    cap = OBLIGATIONS[RIVERSIDE] * 5 // 100
    market, mint = runtime.deployment.addresses["CarbonMarket"], ZERO
    vintage = s.call("regulator", "GET", f"/audit/assets/allowance/{YEAR}/trace")
    hops = vintage["hops"]
    assert [(h["kind"], h["from_address"], h["to_address"], h["amount"]) for h in hops] == [
        ("allocation", mint, a, ALLOCATIONS["riverside"]),
        ("allocation", mint, b, ALLOCATIONS["eastern"]),
        ("transfer", b, trader, 40),
        ("listing", trader, market, 30),
        ("trade", trader, a, 30),
        ("surrender", a, ZERO, OBLIGATIONS[RIVERSIDE] - cap),
        ("surrender", b, ZERO, OBLIGATIONS[EASTERN]),
    ]
    for hop, name in zip(hops, ("allocate", "allocate", "transfer", "list", "fill", f"surrender {RIVERSIDE}",
                                f"surrender {EASTERN}"), strict=True):
        assert same_transaction(runtime, hop["at"], s.tx[name]), (hop, name)
    assert (hops[4]["order_id"], hops[4]["price"], hops[4]["payment"]) == (s.order_id, 6_150, 30 * 6_150)
    assert [h["compliance_year"] for h in hops[5:]] == [YEAR, YEAR]
    issued = sum(ALLOCATIONS.values())
    surrendered = sum(OBLIGATIONS.values()) - cap
    assert (vintage["issued"], vintage["surrendered"], vintage["outstanding"]) == (issued, surrendered,
                                                                                  issued - surrendered)
    assert {h["holder"]: h["amount"] for h in vintage["holders"]} == {
        a: ALLOCATIONS["riverside"] + 30 - (OBLIGATIONS[RIVERSIDE] - cap),
        b: ALLOCATIONS["eastern"] - 40 - OBLIGATIONS[EASTERN],
        trader: 10,
    }
    assert vintage["page"] == {"offset": 0, "limit": 100, "total": 7}
    mine = s.call("eastern", "GET", f"/audit/assets/allowance/{YEAR}/trace")
    assert [h["kind"] for h in mine["hops"]] == ["allocation", "transfer", "surrender"]

    batch = s.call("regulator", "GET", f"/audit/assets/credit/{s.batch_id}/trace")
    hops = batch["hops"]
    assert [(h["kind"], h["from_address"], h["to_address"], h["amount"]) for h in hops] == [
        ("issuance", mint, trader, 500),
        ("transfer", trader, a, 10),
        ("retirement", trader, ZERO, 100),
        ("surrender", a, ZERO, cap),
    ]
    for hop, name in zip(hops, ("issue", "credit transfer", "retire", "credit surrender"), strict=True):
        assert same_transaction(runtime, hop["at"], s.tx[name]), (hop, name)
    retirement = hops[2]
    assert (retirement["retirement_id"], retirement["serial_start"], retirement["serial_end"]) == (
        s.retirement["retirement_id"], s.retirement["serial_start"], s.retirement["serial_end"])
    assert hops[3]["compliance_year"] == YEAR
    assert hops[3]["serial_start"] == s.retirement["serial_end"] + 1  # serials are consumed in order
    assert {h["holder"]: h["amount"] for h in batch["holders"]} == {trader: 500 - 10 - 100, a: 10 - cap}


def drill_down(s: Story) -> None:
    park = s.call("regulator", "GET", f"/audit/parks/{PARK}/drilldown",
                  params={"year": YEAR, "verify_roots": True})["tree"]
    assert (park["level"], park["label"], park["count"], park["matches_anchored"]) == ("park", str(PARK), 480, True)
    assert [e["label"] for e in park["children"]] == [str(RIVERSIDE), str(EASTERN)]
    for enterprise in park["children"]:
        anchors = s.anchors[int(enterprise["label"])]
        anchored = sum(int(a["total_mg"]) for a in anchors)
        assert enterprise["sum_mg"] == enterprise["anchored_mg"] == anchored
        assert enterprise["count"] == enterprise["anchored_count"] == sum(a["reading_count"] for a in anchors)
        devices = [d for f in enterprise["children"] for w in f["children"] for d in w["children"]]
        assert len(devices) == 2 and all(d["level"] == "device" and d["matches_anchored"] for d in devices)
        assert sum(d["sum_mg"] for d in devices) == anchored
    assert park["sum_mg"] == sum(int(a["total_mg"]) for anchors in s.anchors.values() for a in anchors)
    own = s.call("eastern", "GET", f"/audit/parks/{PARK}/drilldown", params={"year": YEAR})["tree"]
    assert [e["label"] for e in own["children"]] == [str(EASTERN)]


def reconcile(s: Story, runtime: Runtime) -> None:
    clean = s.call("regulator", "GET", "/audit/reconcile")
    assert (clean["ok"], clean["differences"]) == (True, [])
    assert clean["block"] == runtime.chain.block_number()
    assert {"balance", "total_supply", "organisation", "member", "device", "anchor", "report",
            "notarization"} <= set(clean["checked"])
    assert (clean["checked"]["device"], clean["checked"]["anchor"], clean["checked"]["report"]) == (4, 4, 2)
    assert s.call("riverside", "GET", "/audit/reconcile", 403)["error"] == "MissingRole"

    holder = s.addresses["eastern"]
    with runtime.sessions.begin() as session:  # someone edits the index behind the service's back
        session.execute(update(ChainBalance).where(
            ChainBalance.token == "AllowanceRegistry", ChainBalance.token_id == YEAR, ChainBalance.holder == holder,
        ).values(amount=ChainBalance.amount + 1000))
    caught = s.call("regulator", "GET", "/audit/reconcile")
    held = ALLOCATIONS["eastern"] - 40 - OBLIGATIONS[EASTERN]
    outstanding = sum(ALLOCATIONS.values()) - sum(OBLIGATIONS.values()) + OBLIGATIONS[RIVERSIDE] * 5 // 100
    assert caught["ok"] is False
    assert caught["differences"] == [
        {"kind": "balance", "key": f"AllowanceRegistry/{YEAR}/{holder}", "field": "amount", "index": held + 1000,
         "chain": held},
        {"kind": "total_supply", "key": f"AllowanceRegistry/{YEAR}", "field": "amount",
         "index": outstanding + 1000, "chain": outstanding},
    ]


# ------------------------------------------------------------------ the story


def test_a_compliance_year_told_through_the_api_is_audited_down_to_readings_proved_on_chain(
    story: Story, runtime: Runtime
):
    admit_the_park(story)
    allocate(story)
    meter_the_park(story)
    report_the_year(story)
    trade(story)
    offset_credits(story)
    surrender(story)
    trace_the_report(story, runtime)
    trace_the_assets(story, runtime)
    drill_down(story)
    reconcile(story, runtime)
