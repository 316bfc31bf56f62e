"""A footprint computed from the chain's records: the steel plant's site emissions as its anchors commit to them,
shared between its two products by mass, plus a supplier's published EPD and a secondary factor per tonne; kept
as a draft whose provenance commitment covers every input, attested and published."""

from __future__ import annotations

import html
from collections.abc import Iterator
from fractions import Fraction
from typing import Any

import pytest
from eth_utils import keccak
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from ledger_core.db.models import ChainAnchor, ChainEpd, CommittedNode, MeterBatch
from ledger_service.audit.reconcile import reconcile
from ledger_service.epd import hex32
from ledger_service.footprints.canonical import commitment
from ledger_service.runtime import Runtime
from oracles import merkle_sum as ms
from tests.service.cast import ENTERPRISE_A, Cast
from tests.service.footprint_steps import HRC, PCR_CODE, attest, draft_body, ok, publish, published
from tests.service.helpers import V1
from tests.service.metering import HOUR, START, anchor, clear_meter_data, messages, push, set_up_park

PERIOD = (START, START + 3 * HOUR)
VALID = (1_735_689_600, 1_893_456_000)  # 2025-01-01 .. 2030-01-01
TONNE = 1000  # milli-units, grams per kg


@pytest.fixture(autouse=True)
def _meter_data(runtime: Runtime) -> Iterator[None]:
    yield
    clear_meter_data(runtime)


def doc(text: str) -> str:
    return hex32(keccak(text=text))


@pytest.fixture
def plant(client: TestClient, cast: Cast, runtime: Runtime) -> dict[str, Any]:
    return steel_plant(client, cast, runtime)


def steel_plant(client: TestClient, cast: Cast, runtime: Runtime) -> dict[str, Any]:
    """Three hours of the steel plant's meter data anchored; a PCR by mass valid from 2025; coil and slab made in
    the plant's first facility with their output for those hours; a supplier's pig iron EPD."""
    layout = set_up_park(client, cast, runtime)
    ok(push(client, cast, "oracle", messages(layout, hours=3)))
    ok(anchor(client, cast, ENTERPRISE_A))
    facility = next(d.facility for d in layout.devices if d.enterprise_org_id == ENTERPRISE_A)
    ok(client.post(f"{V1}/pcrs", headers=cast.auth("regulator"), json={
        "code": PCR_CODE, "version": 1, "name": "Hot-rolled steel coil", "cpc_code": "4121", "declared_unit": "t",
        "allocation": 0, "cut_off_per_mille": 10, "data_quality": "DQR <= 2.0", "valid_from": VALID[0],
        "valid_until": VALID[1], "document_hash": doc("pcr")}), 201)
    products = {}
    for own_id, tonnes, value_cny in (("HRC-2MM", 100, 4_000), ("SLAB-200", 50, 3_500)):
        products[own_id] = ok(client.post(f"{V1}/products", headers=cast.auth("enterprise_a"), json={
            "own_product_id": own_id, "cpc_code": "4121", "declared_unit": "t", "facility": facility}),
            201)["product"]["product_id"]
        ok(client.post(f"{V1}/products/{products[own_id]}/output", headers=cast.auth("enterprise_a"), json={
            "period_start": PERIOD[0], "period_end": PERIOD[1], "quantity_milli": tonnes * TONNE,
            "mass_grams": tonnes * TONNE * TONNE, "value_fen": tonnes * value_cny * 100,
            "extract_hash": doc(f"erp {own_id}")}), 201)
    pig_iron = ok(client.post(f"{V1}/products", headers=cast.auth("enterprise_b"), json={
        "own_product_id": "PIG-IRON", "cpc_code": "4111", "declared_unit": "t", "facility": "F1"}),
        201)["product"]["product_id"]
    body = {**draft_body(pig_iron, "t", 1_600_000_000, period=PERIOD, valid=VALID), "pcr_id": HRC}
    supplier = published(client, cast, "enterprise_b", body)["epd"]["epd_id"]
    return {"facility": facility, "products": products, "supplier_epd": supplier}


def compute_body(product: str, supplier_epd: int, **changes: Any) -> dict[str, Any]:
    return {"product_id": product, "pcr_id": HRC, "pcr_version": 1, "period_start": PERIOD[0],
            "period_end": PERIOD[1], "valid_from": VALID[0], "valid_until": VALID[1], "document_hash": doc("epd"),
            "inputs": [{"name": "pig iron", "quantity": "0.9", "unit": "t", "epd_id": supplier_epd},
                       {"name": "lime", "quantity": "0.1", "unit": "t",
                        "factor": {"database": "CLCD", "version": "2024", "factor_id": "quicklime",
                                   "kg_per_unit": "1000"}},
                       {"name": "electrodes", "quantity": "0.002", "unit": "t",
                        "factor": {"database": "CLCD", "version": "2024", "factor_id": "graphite-electrode",
                                   "kg_per_unit": "3500"}}], **changes}


def anchored_site_mg(runtime: Runtime, facility: str) -> int:
    """The facility's nodes in the anchored windows of the period, summed here independently of the use case."""
    with runtime.sessions() as session:
        return sum(session.scalars(
            select(CommittedNode.sum_mg).join(MeterBatch, MeterBatch.id == CommittedNode.batch_id)
            .join(ChainAnchor, ChainAnchor.anchor_id == MeterBatch.anchor_id)
            .where(CommittedNode.level == ms.LEVEL_FACILITY, CommittedNode.label == facility,
                   MeterBatch.enterprise_org_id == ENTERPRISE_A)))


def test_a_footprint_is_computed_from_the_anchored_site_the_output_records_and_the_bill_of_materials(
        client: TestClient, cast: Cast, runtime: Runtime, plant: dict[str, Any]):
    coil = plant["products"]["HRC-2MM"]
    computed = ok(client.post(f"{V1}/epds/drafts/computed", headers=cast.auth("enterprise_a"),
                              json=compute_body(coil, plant["supplier_epd"])), 201)
    site_mg = anchored_site_mg(runtime, plant["facility"])
    assert site_mg > 0 and computed["site_mg_co2e"] == site_mg
    assert computed["allocation_share"] == "0.6666666666666666666666666666666666666667"  # 100 t of 150 t, by mass
    # per tonne of coil: two thirds of the site over 100 t, 0.9 t x 1,600 kg of pig iron, 0.1 t x 1,000 kg of
    # lime; 0.002 t x 3,500 kg of electrodes is 7 kg, under the PCR's 1 % cut-off, and left out
    lime = Fraction(1, 10) * 1_000_000_000
    exact_mg = Fraction(site_mg) * Fraction(2, 3) / 100 + Fraction(9, 10) * 1_600_000_000 + lime
    fields = computed["draft"]["fields"]
    assert fields["mg_co2e_per_unit"] == int(exact_mg + Fraction(1, 2))
    assert fields["cited_epd_ids"] == [plant["supplier_epd"]]
    # the site's data and the supplier's EPD are primary; the electrode factor is not
    primary = (exact_mg - lime) / exact_mg
    assert fields["primary_data_share_per_mille"] == int(primary * 1000 + Fraction(1, 2))
    provenance = computed["draft"]["provenance"]
    assert [i["cut_off"] for i in provenance["inputs"]] == [False, False, True]
    assert Fraction(computed["exempted_percent"]) > 0
    assert hex32(commitment(provenance)) == fields["provenance_commitment"]
    assert [s["anchor_id"] for s in provenance["subtotals"]] and all(
        s["label"] == plant["facility"] for s in provenance["subtotals"])
    assert sum(int(s["mg"]) for s in provenance["subtotals"]) == site_mg

    draft_id = computed["draft"]["draft_id"]
    ok(attest(client, cast, draft_id))
    epd = ok(publish(client, cast, "enterprise_a", draft_id), 201)["epd"]
    assert (epd["provenance_commitment"], epd["cited_epd_ids"]) == (fields["provenance_commitment"],
                                                                    [plant["supplier_epd"]])
    shown = ok(client.get(f"{V1}/epds/drafts/{draft_id}", headers=cast.auth("verifier")))
    assert shown["provenance"] == provenance


def test_allocation_by_economic_value_gives_the_coil_its_share_of_the_value(
        client: TestClient, cast: Cast, runtime: Runtime, plant: dict[str, Any]):
    ok(client.post(f"{V1}/pcrs", headers=cast.auth("regulator"), json={
        "code": PCR_CODE, "version": 2, "name": "Hot-rolled steel coil", "cpc_code": "4121", "declared_unit": "t",
        "allocation": 1, "cut_off_per_mille": 10, "data_quality": "DQR <= 2.0", "valid_from": VALID[0],
        "valid_until": VALID[1], "document_hash": doc("pcr v2")}), 201)
    computed = ok(client.post(f"{V1}/epds/drafts/computed", headers=cast.auth("enterprise_a"),
                              json=compute_body(plant["products"]["HRC-2MM"], plant["supplier_epd"], pcr_version=2,
                                                inputs=[])), 201)
    # 100 t x 4,000 CNY of 100 t x 4,000 + 50 t x 3,500: 16/23
    assert computed["allocation_share"] == "0.6956521739130434782608695652173913043478"
    site_mg = anchored_site_mg(runtime, plant["facility"])
    assert computed["draft"]["fields"]["mg_co2e_per_unit"] == int(
        Fraction(site_mg) * Fraction(400_000, 575_000) / 100 + Fraction(1, 2))
    assert computed["primary_data_share_percent"] == "100"


def test_a_footprint_is_refused_without_output_in_the_period_or_for_another_s_product(
        client: TestClient, cast: Cast, plant: dict[str, Any]):
    wire = ok(client.post(f"{V1}/products", headers=cast.auth("enterprise_a"), json={
        "own_product_id": "WIRE-5", "cpc_code": "4121", "declared_unit": "t", "facility": plant["facility"]}),
        201)["product"]["product_id"]
    no_output = client.post(f"{V1}/epds/drafts/computed", headers=cast.auth("enterprise_a"),
                            json=compute_body(wire, plant["supplier_epd"]))
    assert (no_output.status_code, no_output.json()["error"]) == (422, "NotMadeAtSite"), no_output.text
    not_theirs = client.post(f"{V1}/epds/drafts/computed", headers=cast.auth("enterprise_b"),
                             json=compute_body(plant["products"]["HRC-2MM"], plant["supplier_epd"]))
    assert not_theirs.status_code in (403, 422) and "NotOrganisationMember" in not_theirs.text, not_theirs.text
    both = compute_body(plant["products"]["HRC-2MM"], plant["supplier_epd"])
    both["inputs"][0]["factor"] = both["inputs"][1]["factor"]
    assert client.post(f"{V1}/epds/drafts/computed", headers=cast.auth("enterprise_a"), json=both).status_code == 422
    nothing_anchored = compute_body(plant["products"]["HRC-2MM"], plant["supplier_epd"],
                                    period_start=PERIOD[1], period_end=PERIOD[1] + HOUR)
    refused = client.post(f"{V1}/epds/drafts/computed", headers=cast.auth("enterprise_a"), json=nothing_anchored)
    assert (refused.status_code, refused.json()["error"]) == (422, "NoSiteData"), refused.text


def test_a_published_epd_prints_as_a_page_that_says_how_to_check_it_on_chain(
        client: TestClient, cast: Cast, runtime: Runtime, plant: dict[str, Any]):
    epd_id = plant["supplier_epd"]
    page = client.get(f"{V1}/epds/{epd_id}/epd.html", headers=cast.auth("trader"))  # a public fact: any member
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    text = html.unescape(page.text)
    assert "1,600.000000 kgCO2e</strong> per t of PIG-IRON" in text
    assert "The registry's record matches this declaration." in text
    assert f"call <code>epd({epd_id})</code> on the EpdRegistry" in text
    with runtime.sessions.begin() as session:  # the index stretches the validity; the chain does not
        session.execute(update(ChainEpd).where(ChainEpd.epd_id == epd_id).values(valid_until=VALID[1] + 1))
    try:
        assert "WARNING: the registry's record does not match" in html.unescape(client.get(
            f"{V1}/epds/{epd_id}/epd.html", headers=cast.auth("trader")).text)
    finally:
        with runtime.sessions.begin() as session:
            session.execute(update(ChainEpd).where(ChainEpd.epd_id == epd_id).values(valid_until=VALID[1]))
    assert client.get(f"{V1}/epds/{epd_id}/epd.html").status_code == 401
    assert client.get(f"{V1}/epds/999/epd.html", headers=cast.auth("trader")).status_code == 404


def test_reconcile_reads_every_pcr_output_record_and_epd_back_from_the_registries(
        runtime: Runtime, plant: dict[str, Any]):
    runtime.indexing.index_up_to_date()
    report = reconcile(runtime.engine, runtime.suite, meters=False)
    assert report.ok, report.differences
    assert (report.checked["pcr"], report.checked["product_output"], report.checked["epd"]) == (1, 2, 1)
    epd_id = plant["supplier_epd"]
    with runtime.sessions.begin() as session:
        session.execute(update(ChainEpd).where(ChainEpd.epd_id == epd_id).values(valid_until=VALID[1] + 1))
    try:
        found = reconcile(runtime.engine, runtime.suite, meters=False).differences
        assert [(d.kind, d.key, d.field, d.index, d.chain) for d in found] == [
            ("epd", str(epd_id), "valid_until", VALID[1] + 1, VALID[1])]
    finally:
        with runtime.sessions.begin() as session:
            session.execute(update(ChainEpd).where(ChainEpd.epd_id == epd_id).values(valid_until=VALID[1]))
