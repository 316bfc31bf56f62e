"""A customer verifies a supplier's totals without its readings: the parts maker, whose bracket EPD cites the steel
plant's coil EPD, gets for that EPD the provenance record and, for each site subtotal it names, the Merkle-sum path
from the plant's facility node to the anchored root with the anchor's record. It checks them itself — the
commitment, the fold, `MeterAnchor.isAnchored` — and sees no reading; asking for a reading is refused."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from ledger_core.db.models import MeterBatch, Reading
from ledger_service.epd import hex32
from ledger_service.footprints.canonical import commitment
from ledger_service.runtime import Runtime
from oracles import merkle_sum as ms
from oracles.anchor_records import record_from_json
from tests.service.cast import ENTERPRISE_A, Cast
from tests.service.footprint_steps import attest, draft_body, ok, publish, published, register_product
from tests.service.helpers import V1
from tests.service.metering import clear_meter_data
from tests.service.test_footprint_compute import PERIOD, VALID, compute_body, steel_plant


@pytest.fixture(autouse=True)
def _meter_data(runtime: Runtime) -> Iterator[None]:
    yield
    clear_meter_data(runtime)


@pytest.fixture
def coil_epd(client: TestClient, cast: Cast, runtime: Runtime) -> int:
    """The steel plant's coil EPD computed from its anchored meter data and published."""
    plant = steel_plant(client, cast, runtime)
    computed = ok(client.post(f"{V1}/epds/drafts/computed", headers=cast.auth("enterprise_a"),
                              json=compute_body(plant["products"]["HRC-2MM"], plant["supplier_epd"])), 201)
    draft_id = computed["draft"]["draft_id"]
    ok(attest(client, cast, draft_id))
    return int(ok(publish(client, cast, "enterprise_a", draft_id), 201)["epd"]["epd_id"])


def _proof(client: TestClient, cast: Cast, actor: str, epd_id: int) -> Any:
    return client.get(f"{V1}/epds/{epd_id}/supplier-proof", headers=cast.auth(actor))


def _keys(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()


def test_a_customer_checks_the_supplier_s_site_totals_against_its_anchors_without_a_reading(
        client: TestClient, cast: Cast, runtime: Runtime, coil_epd: int):
    refused = _proof(client, cast, "enterprise_b", coil_epd)  # not yet a customer
    assert (refused.status_code, refused.json()["error"]) == (403, "NotACustomer")
    bracket = register_product(client, cast, "enterprise_b", "BRACKET-7", "piece")
    published(client, cast, "enterprise_b", draft_body(bracket, "piece", 3_400_000, cited=(coil_epd,),
                                                       period=PERIOD, valid=VALID))

    proof = ok(_proof(client, cast, "enterprise_b", coil_epd))
    assert proof["verified"] and proof["provenance_matches"]
    epd = ok(client.get(f"{V1}/epds/{coil_epd}", headers=cast.auth("enterprise_b")))
    # The customer's own checks: the record is what the EPD committed to on chain ...
    assert hex32(commitment(proof["provenance"])) == epd["provenance_commitment"] == proof["provenance_commitment"]
    subtotals = proof["provenance"]["subtotals"]
    assert len(proof["sites"]) == len(subtotals) >= 1
    for site, named in zip(proof["sites"], subtotals, strict=True):
        # ... each subtotal is the site's node, which folds to the anchored root ...
        node = ms.Node(bytes.fromhex(site["node"]["hash"][2:]), int(site["node"]["sum_mg"]), site["node"]["count"])
        steps = [ms.Step(s["kind"], s["level"], bytes.fromhex(s["data"][2:]), int(s["sum"]), s["count"])
                 for s in site["steps"]]
        top, wraps = ms.fold(node, steps)
        record = record_from_json(site["anchor_record"])
        assert (site["anchor_id"], node.sum) == (named["anchor_id"], int(named["mg"]))
        assert top.hash == record.root and wraps[-1].level == ms.LEVEL_ENTERPRISE
        assert (record.enterprise_org_id, top.sum) == (ENTERPRISE_A, record.total)
        # ... and the record is anchored, as MeterAnchor says.
        batch = site["anchor_batch"]
        first, path = (batch["first_anchor_id"], [bytes.fromhex(p[2:]) for p in batch["proof"]]) if batch else (
            record.anchor_id, [])
        assert runtime.chain.request(lambda r=record, f=first, p=path: runtime.suite.call(
            "MeterAnchor", "isAnchored", r.as_abi(), f, p))
    assert not _keys(proof) & {"digest", "value_mg", "reading_id", "readings", "timestamp"}  # no reading

    # The supplier's readings stay refused to the customer; other members get no totals either.
    with runtime.sessions() as session:
        reading_id = session.scalar(select(Reading.id).join(MeterBatch, MeterBatch.id == Reading.batch_id)
                                    .where(MeterBatch.enterprise_org_id == ENTERPRISE_A).order_by(Reading.id))
    reading = client.get(f"{V1}/meters/readings/{reading_id}/proof", headers=cast.auth("enterprise_b"))
    assert reading.status_code == 403, reading.text
    assert _proof(client, cast, "trader", coil_epd).status_code == 403
    assert ok(_proof(client, cast, "verifier", coil_epd))["verified"]


def test_an_epd_drafted_by_hand_has_no_provenance_to_prove(client: TestClient, cast: Cast):
    ok(client.post(f"{V1}/pcrs", headers=cast.auth("regulator"), json={
        "code": "PCR-STEEL-HRC", "version": 1, "name": "Hot-rolled steel coil", "cpc_code": "4121",
        "declared_unit": "t", "allocation": 0, "cut_off_per_mille": 10, "data_quality": "DQR <= 2.0",
        "valid_from": VALID[0], "valid_until": VALID[1], "document_hash": "0x" + "11" * 32}), 201)
    coil = register_product(client, cast, "enterprise_a", "HRC-2MM", "t")
    epd_id = published(client, cast, "enterprise_a", draft_body(coil, "t", 1_850_000_000))["epd"]["epd_id"]
    missing = _proof(client, cast, "enterprise_a", epd_id)
    assert (missing.status_code, missing.json()["error"]) == (404, "NoProvenanceKept"), json.dumps(missing.json())
