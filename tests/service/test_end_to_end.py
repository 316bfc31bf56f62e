"""The whole story on the embedded chain: members admitted, allowances allocated, transferred and
surrendered, meter data anchored, a report submitted, verified and finalized, its document notarized;
then the audit: the index reconciles with the chain, the allowance vintage is traced hop by hop with
its transaction hashes, the report down to readings whose proofs MeterAnchor accepts, the park down to
its devices. And an index row edited in SQL shows up in the reconciliation."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from ledger_service.chain.outbox import Intent
from ledger_service.db.models import ChainBalance
from ledger_service.runtime import Runtime
from tests.service.cast import ENTERPRISE_A, ENTERPRISE_B, PARK, Cast
from tests.service.helpers import V1, allocate, transfer
from tests.service.meter_story import (
    YEAR,
    anchor_meter_data,
    meter_tables_cleared,
    report_and_finalize,
    submit,
)

AUDIT = f"{V1}/audit"
REPORT_TEXT = b"Riverside Steel - annual emission report 2024\n"
REPORT_DOCUMENT = hashlib.sha256(REPORT_TEXT).digest()


@pytest.fixture
def clean_meter_data(runtime: Runtime) -> Iterator[None]:
    with meter_tables_cleared(runtime):
        yield


def test_the_whole_year_is_audited_from_the_api_down_to_readings_proved_on_chain(
    client: TestClient, cast: Cast, runtime: Runtime, clean_meter_data: None
):
    a, b, trader = (cast.addresses[n] for n in ("enterprise_a", "enterprise_b", "trader"))
    tx: dict[str, str] = {}

    # Meter data: devices, an oracle admitted through the API, readings ingested and anchored hourly.
    story = anchor_meter_data(runtime, client, cast)
    assert [len(story.anchor_ids[org]) for org in (ENTERPRISE_A, ENTERPRISE_B)] == [2, 2]

    # Allowances through the API: allocated, moved through a trader.
    tx["allocate"] = allocate(client, cast, {"enterprise_a": 1000, "enterprise_b": 500}, year=YEAR)["tx_hash"]
    for name, (sender, receiver, amount) in {
        "b_to_trader": ("enterprise_b", "trader", 200),
        "trader_to_a": ("trader", "enterprise_a", 150),
    }.items():
        reply = transfer(client, cast, sender, receiver, amount, year=YEAR)
        assert reply.status_code == 200, reply.text
        tx[name] = reply.json()["tx_hash"]

    # The report document notarized through the API; the report committed to the anchors, verified,
    # finalized (the emissions endpoints are the domain layer's here).
    reply = client.post(
        f"{V1}/notary/documents",
        headers=cast.auth("enterprise_a"),
        files={"document": ("report.txt", REPORT_TEXT)},
        data={"kind": "EMISSION_REPORT"},
    )
    assert reply.status_code == 201, reply.text
    tx["notarize"] = reply.json()["transaction"]["tx_hash"]
    report_and_finalize(runtime, cast, story, document=REPORT_DOCUMENT, verified_kg=120_400)
    assert story.obligation_tonnes == 120

    # Surrender through the API once the compliance window is open.
    submit(runtime, Intent("ComplianceLedger", "openComplianceWindow", (YEAR,), cast.addresses["regulator"]))
    reply = client.post(
        f"{V1}/allowances/surrenders",
        headers=cast.auth("enterprise_a"),
        json={"compliance_year": YEAR, "vintages": [{"year": YEAR, "amount": 120}]},
    )
    assert reply.status_code == 200, reply.text
    tx["surrender"] = reply.json()["tx_hash"]

    # The index agrees with the chain on everything.
    reply = client.get(f"{AUDIT}/reconcile", headers=cast.auth("regulator"))
    assert reply.status_code == 200, reply.text
    reconciled = reply.json()
    assert reconciled["ok"] and reconciled["differences"] == []
    assert reconciled["block"] == runtime.chain.block_number()
    assert {"balance", "member", "organisation", "device", "anchor", "report", "notarization"} <= set(
        reconciled["checked"]
    )
    assert reconciled["checked"]["device"] == 8 and reconciled["checked"]["anchor"] == 4

    # The vintage, hop by hop, each with the transaction the API answered.
    reply = client.get(f"{AUDIT}/assets/allowance/{YEAR}/trace", headers=cast.auth("regulator"))
    assert reply.status_code == 200, reply.text
    trace = reply.json()
    assert [
        (h["kind"], h["to_address"] if h["kind"] != "surrender" else h["from_address"], h["amount"], h["at"]["tx_hash"])
        for h in trace["hops"]
    ] == [
        ("allocation", a, 1000, tx["allocate"]),
        ("allocation", b, 500, tx["allocate"]),
        ("transfer", trader, 200, tx["b_to_trader"]),
        ("transfer", a, 150, tx["trader_to_a"]),
        ("surrender", a, 120, tx["surrender"]),
    ]
    assert trace["hops"][-1]["compliance_year"] == YEAR
    assert all(h["at"]["block_time"].endswith("Z") or h["at"]["block_time"].endswith("+00:00") for h in trace["hops"])
    assert (trace["issued"], trace["surrendered"], trace["outstanding"]) == (1500, 120, 1380)
    assert {h["holder"]: h["amount"] for h in trace["holders"]} == {a: 1030, b: 300, trader: 50}
    assert trace["page"] == {"offset": 0, "limit": 100, "total": 5}

    # The report, by its own enterprise: steps, commitment, anchors, readings proved on chain, devices.
    reply = client.get(
        f"{AUDIT}/reports/{story.report_id}/trace",
        headers=cast.auth("enterprise_a"),
        params={"readings": 3, "verify_on_chain": True},
    )
    assert reply.status_code == 200, reply.text
    report = reply.json()
    assert report["verified"] and (report["org_id"], report["year"]) == (ENTERPRISE_A, YEAR)
    (version,) = report["versions"]
    assert [(s["kind"], s["actor"], s["at"]["tx_hash"]) for s in version["steps"]] == [
        ("submitted", a, story.tx["submit"]),
        ("verified", cast.addresses["verifier"], story.tx["verify"]),
        ("finalized", cast.addresses["regulator"], story.tx["finalize"]),
    ]
    assert version["steps"][-1]["obligation_tonnes"] == 120 and version["status"] == "finalized"
    assert version["document_hash"] == "0x" + REPORT_DOCUMENT.hex()
    assert report["commitment"]["matches"] and report["commitment"]["anchor_ids"] == story.anchor_ids[ENTERPRISE_A]
    assert [x["anchor_id"] for x in report["anchors"]] == story.anchor_ids[ENTERPRISE_A]
    assert all(x["sql_matches"] and x["oracle"] == story.oracle for x in report["anchors"])
    assert len(report["readings"]) == 3
    for reading in report["readings"]:
        assert reading["proof_valid"] and reading["verified_on_chain"] is True
        assert [s["level"] for s in reading["subtotals"]] == ["device", "workshop", "facility", "enterprise"]
        assert reading["subtotals"][0]["label"] == reading["device_id"]
        assert reading["anchor_id"] in story.anchor_ids[ENTERPRISE_A]
    assert len(report["devices"]) == 4 and all(d["active_on_chain"] and d["registered"] for d in report["devices"])
    assert [n["at"]["tx_hash"] for n in report["notarizations"]] == [tx["notarize"]]

    # The park, down to devices, every total matching the anchored sums.
    reply = client.get(
        f"{AUDIT}/parks/{PARK}/drilldown", headers=cast.auth("regulator"), params={"year": YEAR, "verify_roots": True}
    )
    assert reply.status_code == 200, reply.text
    park = reply.json()["tree"]
    assert park["matches_anchored"] and [e["label"] for e in park["children"]] == ["11", "12"]
    assert park["count"] == 8 * 120 and park["sum_mg"] == sum(e["sum_mg"] for e in park["children"])
    riverside = park["children"][0]
    assert riverside["sum_mg"] == riverside["anchored_mg"] == version["anchored_mg"]
    devices = [d for f in riverside["children"] for w in f["children"] for d in w["children"]]
    assert len(devices) == 4 and all(d["matches_anchored"] for d in devices)
    # Riverside Steel's member sees its own branch only.
    reply = client.get(f"{AUDIT}/parks/{PARK}/drilldown", headers=cast.auth("enterprise_a"), params={"year": YEAR})
    assert [e["label"] for e in reply.json()["tree"]["children"]] == ["11"]


def test_an_index_row_edited_in_sql_shows_in_the_reconciliation(client: TestClient, cast: Cast, runtime: Runtime):
    allocate(client, cast, {"enterprise_a": 700}, year=YEAR)
    assert client.get(f"{AUDIT}/reconcile", headers=cast.auth("regulator")).json()["ok"]
    holder = cast.addresses["enterprise_a"]
    with runtime.sessions.begin() as session:
        session.execute(
            update(ChainBalance)
            .where(
                ChainBalance.token == "AllowanceRegistry",
                ChainBalance.token_id == YEAR,
                ChainBalance.holder == holder,
            )
            .values(amount=7000)
        )
    reply = client.get(f"{AUDIT}/reconcile", headers=cast.auth("regulator"))
    assert reply.status_code == 200
    body = reply.json()
    assert not body["ok"]
    assert body["differences"] == [
        {
            "kind": "balance",
            "key": f"AllowanceRegistry/{YEAR}/{holder}",
            "field": "amount",
            "index": 7000,
            "chain": 700,
        },
        {"kind": "total_supply", "key": f"AllowanceRegistry/{YEAR}", "field": "amount", "index": 7000, "chain": 700},
    ]


def test_a_credit_batch_is_traced_through_the_api_from_issuance_through_a_trade_to_its_retirement(
    client: TestClient, cast: Cast, runtime: Runtime
):
    """Offset credits end to end over HTTP: verified and issued, listed and bought on the market within
    the band, partly retired with a certificate; the audit trace names every hop with its transaction."""
    from tests.service.credit_steps import admit_bank, chain_now, mint, verified_batch

    verified_batch(client, cast, amount=1_000)
    reply = client.post(
        f"{V1}/market/reference-prices",
        headers=cast.auth("regulator"),
        json={"asset": "credit", "token_id": 1, "price": "50.00"},
    )
    assert reply.status_code == 200, reply.text
    admit_bank(runtime, cast)
    mint(client, cast, "trader", "20000.00")
    listed = client.post(
        f"{V1}/market/orders",
        headers=cast.auth("enterprise_a"),
        json={"asset": "credit", "token_id": 1, "amount": 200, "price": "51.50", "expiry": chain_now(runtime) + 86_400},
    )
    assert listed.status_code == 201, listed.text
    order_id = listed.json()["order"]["order_id"]
    filled = client.post(f"{V1}/market/orders/{order_id}/fill", headers=cast.auth("trader"), json={"amount": 200})
    assert filled.status_code == 200, filled.text
    fill_tx = filled.json()["transactions"][-1]["tx_hash"]
    retired = client.post(
        f"{V1}/credits/retirements",
        headers=cast.auth("trader"),
        json={
            "batch_id": 1,
            "amount": 50,
            "beneficiary": "Harbour Logistics",
            "purpose": "2024 business travel",
            "jurisdiction": "CN",
            "consumption_start": 1_704_067_200,
            "consumption_end": 1_735_689_599,
        },
    )
    assert retired.status_code == 201, retired.text
    certificate = retired.json()["certificate"]

    trace = client.get(f"{AUDIT}/assets/credit/1/trace", headers=cast.auth("regulator"))
    assert trace.status_code == 200, trace.text
    hops = trace.json()["hops"]
    assert [h["kind"] for h in hops] == ["issuance", "listing", "trade", "retirement"]
    trade = hops[2]
    assert (trade["from_address"], trade["to_address"], trade["amount"]) == (
        cast.addresses["enterprise_a"],
        cast.addresses["trader"],
        200,
    )
    assert (trade["order_id"], trade["price"], trade["payment"]) == (order_id, 5_150, 200 * 5_150)
    assert trade["at"]["tx_hash"] == fill_tx
    retirement = hops[3]
    assert (retirement["retirement_id"], retirement["serial_start"], retirement["serial_end"]) == (
        certificate["retirement_id"],
        certificate["serial_start"],
        certificate["serial_end"],
    )
    assert retirement["at"]["tx_hash"] == certificate["tx_hash"]
    holders = {h["holder"]: h["amount"] for h in trace.json()["holders"]}
    assert holders == {cast.addresses["enterprise_a"]: 800, cast.addresses["trader"]: 150}
