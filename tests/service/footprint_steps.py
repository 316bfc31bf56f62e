"""Product footprint steps through the HTTP API: the hot-rolled coil PCR, the steel plant's coil (enterprise A)
and the parts maker's bracket (enterprise B), drafts attested by the cast's verifier and published by their
owners."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from httpx import Response

from ledger_service.epd import hex32, pcr_id
from tests.service.cast import Cast
from tests.service.helpers import V1
from tests.support.footprints import Q1, VALID, doc

PCR_CODE = "PCR-STEEL-HRC"
HRC = hex32(pcr_id(PCR_CODE))


def ok(reply: Response, status: int = 200) -> Any:
    assert reply.status_code == status, reply.text
    return reply.json()


def register_pcr(client: TestClient, cast: Cast, version: int = 1, actor: str = "regulator") -> Response:
    return client.post(f"{V1}/pcrs", headers=cast.auth(actor), json={
        "code": PCR_CODE, "version": version, "name": "Hot-rolled steel coil", "cpc_code": "4121",
        "declared_unit": "t", "allocation": 0, "cut_off_per_mille": 10, "data_quality": "DQR <= 2.0",
        "valid_from": VALID[0], "valid_until": VALID[1], "document_hash": hex32(doc(f"pcr v{version}"))})


def register_product(client: TestClient, cast: Cast, actor: str, own_id: str, unit: str,
                     facility: str = "F1") -> str:
    body = ok(client.post(f"{V1}/products", headers=cast.auth(actor), json={
        "own_product_id": own_id, "cpc_code": "4121", "declared_unit": unit, "facility": facility}), 201)
    return str(body["product"]["product_id"])


def draft_body(product: str, unit: str, mg: int, cited: tuple[int, ...] = (), supersedes: int = 0,
               period: tuple[int, int] = Q1, valid: tuple[int, int] = VALID) -> dict[str, Any]:
    return {"product_id": product, "pcr_id": HRC, "pcr_version": 1, "declared_unit": unit, "mg_co2e_per_unit": mg,
            "period_start": period[0], "period_end": period[1], "valid_from": valid[0], "valid_until": valid[1],
            "document_hash": hex32(doc(f"epd {product} {mg}")), "provenance_commitment": hex32(doc(f"prov {mg}")),
            "primary_data_share_per_mille": 620, "cited_epd_ids": list(cited), "supersedes": supersedes}


def draft(client: TestClient, cast: Cast, actor: str, body: dict[str, Any]) -> Response:
    return client.post(f"{V1}/epds/drafts", headers=cast.auth(actor), json=body)


def attest(client: TestClient, cast: Cast, draft_id: int, actor: str = "verifier") -> Response:
    return client.post(f"{V1}/epds/drafts/{draft_id}/attest", headers=cast.auth(actor),
                       json={"statement_hash": hex32(doc(f"statement {draft_id}"))})


def publish(client: TestClient, cast: Cast, actor: str, draft_id: int) -> Response:
    return client.post(f"{V1}/epds", headers=cast.auth(actor), json={"draft_id": draft_id})


def published(client: TestClient, cast: Cast, actor: str, body: dict[str, Any]) -> dict[str, Any]:
    """Draft, attest (the cast's verifier) and publish; the publication's answer."""
    draft_id = ok(draft(client, cast, actor, body), 201)["draft_id"]
    ok(attest(client, cast, draft_id))
    return dict(ok(publish(client, cast, actor, draft_id), 201))


def supply_chain(client: TestClient, cast: Cast) -> dict[str, Any]:
    """The PCR; the steel plant's coil EPD; the parts maker's bracket EPD citing it."""
    ok(register_pcr(client, cast), 201)
    steel = register_product(client, cast, "enterprise_a", "HRC-2MM", "t")
    steel_epd = published(client, cast, "enterprise_a", draft_body(steel, "t", 1_850_000_000))["epd"]["epd_id"]
    bracket = register_product(client, cast, "enterprise_b", "BRACKET-7", "piece")
    part_epd = published(client, cast, "enterprise_b",
                         draft_body(bracket, "piece", 3_400_000, cited=(steel_epd,)))["epd"]["epd_id"]
    return {"steel": steel, "steel_epd": steel_epd, "bracket": bracket, "part_epd": part_epd}


def supersede_steel(client: TestClient, cast: Cast, chain: dict[str, Any], key: str = "supersede-1") -> Any:
    """A newer coil EPD of the supply chain's steel plant, superseding its first (which flags the bracket's
    citation): the publication's answer."""
    draft_id = ok(draft(client, cast, "enterprise_a",
                        draft_body(chain["steel"], "t", 1_700_000_000, supersedes=chain["steel_epd"])), 201)["draft_id"]
    ok(attest(client, cast, draft_id))
    return ok(client.post(f"{V1}/epds", headers={**cast.auth("enterprise_a"), "Idempotency-Key": key},
                          json={"draft_id": draft_id}), 201)
