"""Production output from sealed evidence: a steel plant's coil counter (signed counts anchored as product-count
windows) recorded as the coil's output for a period, the evidence naming every anchor it used; and an uploaded ERP
extract recorded for two products. Both kinds of evidence are sealed in the vault with their hash committed on
chain, and reconcile finds an extract tampered with in storage."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from ledger_core.db.models import StoredDocument
from ledger_service.documents import OutputDocumentKind
from ledger_service.runtime import Runtime
from oracles.canonical import MessageReading
from oracles.measures import MEASURE_PRODUCT_COUNT
from oracles.simulator import _raw_public_key, device_signing_key, sign_message
from oracles.sources import MessageIn
from tests.service.cast import ENTERPRISE_A, Cast
from tests.service.footprint_steps import ok
from tests.service.helpers import V1
from tests.service.metering import HOUR, START, anchor, clear_meter_data, messages, push, set_up_park

COUNTER = "RS-F1-COIL-CTR"
SEED = 7
PERIOD = (START, START + 3 * HOUR)


@pytest.fixture(autouse=True)
def _meter_data(runtime: Runtime) -> Iterator[None]:
    yield
    clear_meter_data(runtime)


def _counts(hours: int, tonnes: str = "2.5", unit: str = "t") -> list[dict[str, Any]]:
    """One count a minute (a coil of `tonnes`), one message an hour."""
    readings = tuple(MessageReading(i + 1, START + 60 * i, tonnes, unit, "product") for i in range(hours * 60))
    key = device_signing_key(SEED, COUNTER)
    return [MessageIn.of(sign_message(key, COUNTER, readings[i:i + 60])).model_dump()
            for i in range(0, len(readings), 60)]


def _product(client: TestClient, cast: Cast, own_id: str, facility: str, unit: str = "t") -> str:
    return str(ok(client.post(f"{V1}/products", headers=cast.auth("enterprise_a"), json={
        "own_product_id": own_id, "cpc_code": "4121", "declared_unit": unit, "facility": facility}),
        201)["product"]["product_id"])


@pytest.fixture
def counted_plant(client: TestClient, cast: Cast, runtime: Runtime) -> dict[str, Any]:
    """The plant's meters and its coil counter, three hours of data anchored; the coil registered at the counter's
    facility."""
    layout = set_up_park(client, cast, runtime, devices=1)
    meter = next(d for d in layout.devices if d.enterprise_org_id == ENTERPRISE_A)
    ok(client.post(f"{V1}/meters/devices", headers=cast.auth("enterprise_a"), json={
        "device_id": COUNTER, "enterprise_org_id": ENTERPRISE_A, "facility": meter.facility,
        "workshop": meter.workshop, "public_key": _raw_public_key(device_signing_key(SEED, COUNTER)).hex(),
        "kind": "product_counter"}), 201)
    pushed = ok(push(client, cast, "oracle", messages(layout, hours=3, org=ENTERPRISE_A) + _counts(3)))
    assert pushed["accepted"] == 360
    ok(anchor(client, cast, ENTERPRISE_A))
    return {"meter": meter.device_id, "coil": _product(client, cast, "HRC-2MM", meter.facility),
            "facility": meter.facility}


def test_the_coil_output_is_the_sum_of_its_counter_s_anchored_counts_and_commits_to_the_anchors(
        client: TestClient, cast: Cast, counted_plant: dict[str, Any]):
    coil = counted_plant["coil"]
    recorded = ok(client.post(f"{V1}/products/{coil}/output/counted", headers=cast.auth("enterprise_a"), json={
        "period_start": PERIOD[0], "period_end": PERIOD[1], "devices": [COUNTER], "value_fen": 180 * 4_000_00}), 201)
    output, evidence = recorded["output"], recorded["evidence"]
    # 180 coils of 2.5 t: 450 t, in milli tonnes; its mass follows from the tonnes
    assert (output["quantity_milli"], output["mass_grams"]) == (450_000, 450_000_000)
    assert output["extract_hash"] == recorded["evidence_hash"]
    assert len(evidence["counts"]) == 3 and evidence["quantityMilli"] == 450_000
    assert all(c["device"] == COUNTER and c["sumMilli"] == 150_000 and c["count"] == 60 for c in evidence["counts"])
    anchors = ok(client.get(f"{V1}/meters/enterprises/{ENTERPRISE_A}/anchors",
                            headers=cast.auth("enterprise_a")))["anchors"]
    counted = [a for a in anchors if a["measure"] == MEASURE_PRODUCT_COUNT]
    assert [c["anchorId"] for c in evidence["counts"]] == [a["anchor_id"] for a in counted]
    # The sealed evidence is the canonical record whose SHA-256 the output commits to.
    opened = client.get(f"{V1}/products/{coil}/output/1/evidence", headers=cast.auth("verifier"))
    assert opened.status_code == 200, opened.text
    assert "0x" + hashlib.sha256(opened.content).hexdigest() == output["extract_hash"]
    assert json.loads(opened.content) == evidence
    assert client.get(f"{V1}/products/{coil}/output/1/evidence",
                      headers=cast.auth("enterprise_b")).status_code == 403


def test_counts_are_refused_from_a_meter_that_is_not_a_counter_of_the_product_or_in_another_unit(
        client: TestClient, cast: Cast, counted_plant: dict[str, Any]):
    coil = counted_plant["coil"]
    body = {"period_start": PERIOD[0], "period_end": PERIOD[1], "devices": [counted_plant["meter"]],
            "value_fen": 1}
    refused = client.post(f"{V1}/products/{coil}/output/counted", headers=cast.auth("enterprise_a"), json=body)
    assert (refused.status_code, refused.json()["error"]) == (422, "NotACounterOfProduct")
    pieces = _product(client, cast, "COIL-PIECES", counted_plant["facility"], unit="piece")
    refused = client.post(f"{V1}/products/{pieces}/output/counted", headers=cast.auth("enterprise_a"),
                          json={**body, "devices": [COUNTER], "mass_grams": 1})
    assert (refused.status_code, refused.json()["error"]) == (422, "CountUnitMismatch")
    later = client.post(f"{V1}/products/{coil}/output/counted", headers=cast.auth("enterprise_a"), json={
        **body, "devices": [COUNTER], "period_start": PERIOD[1], "period_end": PERIOD[1] + HOUR})
    assert (later.status_code, later.json()["error"]) == (422, "NoCountedOutput")
    assert ok(client.get(f"{V1}/products/{coil}/output", headers=cast.auth("enterprise_a")))["items"] == []


def test_a_counter_s_anchored_counts_back_one_output_only(client: TestClient, cast: Cast,
                                                         counted_plant: dict[str, Any]):
    """Counted again (another product at the same site, or an overlapping period), the same coils would be
    output twice and every footprint divided by them too small."""
    coil = counted_plant["coil"]
    body = {"period_start": PERIOD[0], "period_end": PERIOD[1], "devices": [COUNTER], "value_fen": 1}
    first = ok(client.post(f"{V1}/products/{coil}/output/counted", headers=cast.auth("enterprise_a"), json=body), 201)
    other = _product(client, cast, "HRC-3MM", counted_plant["facility"])
    for product, start in ((other, PERIOD[0]), (coil, PERIOD[0] + HOUR)):
        refused = client.post(f"{V1}/products/{product}/output/counted", headers=cast.auth("enterprise_a"),
                              json={**body, "period_start": start})
        assert (refused.status_code, refused.json()["error"]) == (409, "CountsAlreadyClaimed")
        assert refused.json()["args"]["evidence"] == first["evidence_hash"]
    assert ok(client.get(f"{V1}/products/{other}/output", headers=cast.auth("enterprise_a")))["items"] == []
    assert len(ok(client.get(f"{V1}/products/{coil}/output", headers=cast.auth("enterprise_a")))["items"]) == 1


EXTRACT = (
    b"product,period_start,period_end,quantity,mass_kg,value_cny\n"
    b"HRC-2MM,2025-04-01T00:00:00Z,2025-04-01T03:00:00Z,100,100000,400000\n"
    b"SLAB-200,2025-04-01T00:00:00Z,2025-04-01T03:00:00Z,50.5,50500,176750.25\n"
)


def _upload(client: TestClient, cast: Cast, content: bytes, actor: str = "enterprise_a") -> Any:
    return client.post(f"{V1}/products/output/extracts", headers=cast.auth(actor),
                       files={"extract": ("erp-2025-04.csv", content, "text/csv")})


def test_an_erp_extract_is_sealed_and_each_row_recorded_with_its_hash_and_reconcile_finds_it_tampered(
        client: TestClient, cast: Cast, runtime: Runtime):
    coil, slab = _product(client, cast, "HRC-2MM", "F1"), _product(client, cast, "SLAB-200", "F1")
    recorded = ok(_upload(client, cast, EXTRACT), 201)
    digest = "0x" + hashlib.sha256(EXTRACT).hexdigest()
    assert recorded["extract_hash"] == digest
    assert [(o["product_id"], o["quantity_milli"], o["mass_grams"], o["value_fen"], o["extract_hash"])
            for o in recorded["outputs"]] == [(coil, 100_000, 100_000_000, 40_000_000, digest),
                                              (slab, 50_500, 50_500_000, 17_675_025, digest)]
    opened = client.get(f"{V1}/products/{slab}/output/1/evidence", headers=cast.auth("regulator"))
    assert opened.content == EXTRACT
    assert ok(client.get(f"{V1}/audit/reconcile", headers=cast.auth("regulator")))["differences"] == []

    # The sealed extract is swapped in storage for another one's ciphertext: it no longer opens as itself.
    other = b"product,period_start,period_end,quantity,mass_kg,value_cny\n"
    runtime.documents.store(other, ENTERPRISE_A, OutputDocumentKind.EXTRACT, "tamperer")
    with runtime.sessions.begin() as session:
        rows = {r.document_hash: r for r in session.scalars(select(StoredDocument))}
        forged = rows[hashlib.sha256(other).digest()]
        session.execute(update(StoredDocument).where(StoredDocument.document_hash == bytes.fromhex(digest[2:]))
                        .values(salt=forged.salt, nonce=forged.nonce, ciphertext=forged.ciphertext))
    found = ok(client.get(f"{V1}/audit/reconcile", headers=cast.auth("regulator")))["differences"]
    fields = {(d["kind"], d["field"]) for d in found if digest[2:] in d["key"]}
    assert ("document", "content") in fields
    # The forged one is on no output record.
    assert any(d["field"] == "on_chain" and hashlib.sha256(other).hexdigest() in d["key"] for d in found)


def test_an_extract_is_refused_whole_before_anything_is_recorded(client: TestClient, cast: Cast):
    coil = _product(client, cast, "HRC-2MM", "F1")
    finer = EXTRACT.replace(b"176750.25", b"176750.255")
    refused = client.post(f"{V1}/products/output/extracts", headers=cast.auth("enterprise_a"),
                          files={"extract": ("erp.csv", finer, "text/csv")})
    assert (refused.status_code, refused.json()["error"]) == (422, "ExtractInvalid")
    unknown = _upload(client, cast, EXTRACT)  # SLAB-200 is not registered
    assert unknown.status_code in (404, 422) and unknown.json()["error"] == "UnknownProduct"
    assert ok(client.get(f"{V1}/products/{coil}/output", headers=cast.auth("enterprise_a")))["items"] == []
