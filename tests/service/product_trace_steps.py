"""A two-tier supply chain computed from anchored meter data through the HTTP API: the steel plant's coil and the
parts maker's bracket (citing the coil's EPD), each made in a workshop of its enterprise, with its output for the
period, computed by `POST /epds/drafts/computed`, attested by the cast's verifier and published."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from ledger_service.epd import hex32
from ledger_service.runtime import Runtime
from oracles.simulator import ParkLayout
from tests.service.cast import ENTERPRISE_A, ENTERPRISE_B, Cast
from tests.service.footprint_steps import HRC, PCR_CODE, attest, ok, publish
from tests.service.helpers import V1
from tests.service.metering import START, anchor, messages, push, set_up_park
from tests.support.footprints import doc

PERIOD = (START, START + 2 * 3600)  # the two hours of the park's meter data
VALID = (1_735_689_600, 1_893_456_000)  # 2025-01-01 .. 2030-01-01


def computed_epd(client: TestClient, cast: Cast, layout: ParkLayout, org_id: int, actor: str, own_id: str,
                 unit: str, quantity_milli: int, inputs: list[dict[str, Any]]) -> int:
    """A product of the enterprise's first workshop, its output for the period recorded, its footprint computed
    from the chain's records, attested and published: the EPD's id."""
    device = next(d for d in layout.devices if d.enterprise_org_id == org_id)
    product = ok(client.post(f"{V1}/products", headers=cast.auth(actor), json={
        "own_product_id": own_id, "cpc_code": "4121", "declared_unit": unit, "facility": device.facility,
        "workshop": device.workshop}), 201)["product"]["product_id"]
    ok(client.post(f"{V1}/products/{product}/output", headers=cast.auth(actor), json={
        "period_start": PERIOD[0], "period_end": PERIOD[1], "quantity_milli": quantity_milli, "mass_grams": 40_000_000,
        "value_fen": 18_000_000, "extract_hash": hex32(doc(f"erp {own_id}"))}), 201)
    computed = ok(client.post(f"{V1}/epds/drafts/computed", headers=cast.auth(actor), json={
        "product_id": product, "pcr_id": HRC, "pcr_version": 1, "period_start": PERIOD[0], "period_end": PERIOD[1],
        "valid_from": VALID[0], "valid_until": VALID[1], "document_hash": hex32(doc(f"epd {own_id}")),
        "inputs": inputs}), 201)
    draft_id = computed["draft"]["draft_id"]
    ok(attest(client, cast, draft_id))
    return int(ok(publish(client, cast, actor, draft_id), 201)["epd"]["epd_id"])


def computed_supply_chain(client: TestClient, cast: Cast, runtime: Runtime) -> dict[str, Any]:
    """Both enterprises' meter data anchored; the coil PCR; the coil's EPD and the bracket's EPD citing it."""
    layout = set_up_park(client, cast, runtime, devices=1)
    ok(push(client, cast, "oracle", messages(layout, hours=2)))
    for org in (ENTERPRISE_A, ENTERPRISE_B):
        ok(anchor(client, cast, org))
    ok(client.post(f"{V1}/pcrs", headers=cast.auth("regulator"), json={
        "code": PCR_CODE, "version": 1, "name": "Hot-rolled steel coil", "cpc_code": "4121", "declared_unit": "t",
        "allocation": 0, "cut_off_per_mille": 10, "data_quality": "DQR <= 2.0", "valid_from": VALID[0],
        "valid_until": VALID[1], "document_hash": hex32(doc("pcr v1"))}), 201)
    # 40 t of coil; 40,000 brackets of 1 kg with 2.1 kg of coil each, well above the PCR's 1 % cut-off
    steel_epd = computed_epd(client, cast, layout, ENTERPRISE_A, "enterprise_a", "HRC-2MM", "t", 40_000, [])
    part_epd = computed_epd(client, cast, layout, ENTERPRISE_B, "enterprise_b", "BRACKET-7", "piece", 40_000_000, [
        {"name": "hot-rolled coil", "quantity": "0.0021", "unit": "t", "epd_id": steel_epd}])
    return {"steel_epd": steel_epd, "part_epd": part_epd, "layout": layout}
