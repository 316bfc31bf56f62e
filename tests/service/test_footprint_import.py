"""A supplier's footprint fetched from another PACT v3 host: its hash notarized on chain, kept as an input marked not
verified on this ledger, and used by a footprint computed from anchored data (primary data, with its id and hash
in the provenance)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ledger_service.cli import output
from ledger_service.footprints.pact import to_product_footprint
from ledger_service.runtime import Runtime
from tests.cli.test_business_commands import Cli
from tests.footprints.pact_host import BASE, CLIENT_ID, CLIENT_SECRET, pact_app
from tests.footprints.samples import COIL_V2
from tests.service.cast import Cast
from tests.service.footprint_steps import ok
from tests.service.helpers import V1
from tests.service.metering import clear_meter_data
from tests.service.test_footprint_compute import PERIOD, VALID, compute_body, steel_plant

SUPPLIER = str(to_product_footprint(COIL_V2).id)


@pytest.fixture
def plant(client: TestClient, cast: Cast, runtime: Runtime) -> Iterator[dict[str, Any]]:
    """The steel plant of `test_footprint_compute`, and the service reaching the other PACT host in-process."""
    found = steel_plant(client, cast, runtime)
    services = client.app.state.services  # type: ignore[attr-defined]
    host = pact_app()
    client.app.state.services = replace(  # type: ignore[attr-defined]
        services, footprints=replace(services.footprints, pact_hosts=frozenset({BASE}),
                                     pact_connect=lambda url: TestClient(host, base_url=url)))
    yield found
    client.app.state.services = services  # type: ignore[attr-defined]
    clear_meter_data(runtime)


def import_body(**changes: Any) -> dict[str, Any]:
    return {"host": BASE, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "footprint_id": SUPPLIER, **changes}


def test_an_imported_footprint_is_notarized_kept_unverified_and_used_as_primary_data(
        client: TestClient, cast: Cast, plant: dict[str, Any]):
    imported = ok(client.post(f"{V1}/footprints/imports", headers=cast.auth("enterprise_a"), json=import_body()), 201)
    assert (imported["footprint_id"], imported["verified_on_ledger"]) == (SUPPLIER, False)
    assert Decimal(imported["kg_per_unit"]) == Decimal("1.2375") and imported["unit"] == "kilogram"
    notarized = ok(client.get(f"{V1}/notary/documents/{imported['sha256']}", headers=cast.auth("trader")))
    assert notarized["notary"] == cast.addresses["enterprise_a"]
    assert ok(client.get(f"{V1}/footprints/imports/{imported['id']}", headers=cast.auth("verifier")))["id"] == \
        imported["id"]
    assert client.get(f"{V1}/footprints/imports/{imported['id']}",
                      headers=cast.auth("enterprise_b")).status_code == 403

    body = compute_body(plant["products"]["HRC-2MM"], plant["supplier_epd"], inputs=[
        {"name": "coil from another registry", "quantity": "100", "unit": "kilogram",
         "pact_import_id": imported["id"]}])
    computed = ok(client.post(f"{V1}/epds/drafts/computed", headers=cast.auth("enterprise_a"), json=body), 201)
    (line,) = computed["draft"]["provenance"]["inputs"]
    assert line["source"] == {"type": "supplier", "kind": "PACT", "id": SUPPLIER, "kg_per_unit": "1.2375",
                              "hash": imported["keccak256"]}
    assert Decimal(computed["upstream_kg_co2e_per_unit"]) == Decimal("123.75")
    assert computed["primary_data_share_percent"] == "100"


def test_an_import_is_refused_over_plain_http_with_wrong_credentials_for_a_trader_or_from_a_host_not_allowed(
        client: TestClient, cast: Cast, plant: dict[str, Any]):
    plain = client.post(f"{V1}/footprints/imports", headers=cast.auth("enterprise_a"),
                        json=import_body(host="http://pact.example"))
    assert plain.status_code == 422
    refused = client.post(f"{V1}/footprints/imports", headers=cast.auth("enterprise_a"),
                          json=import_body(client_secret="wrong"))
    assert (refused.status_code, refused.json()["error"]) == (422, "invalid_client"), refused.text
    unknown = client.post(f"{V1}/footprints/imports", headers=cast.auth("enterprise_a"),
                          json=import_body(footprint_id="00000000-0000-4000-8000-000000000000"))
    assert unknown.status_code == 422 and unknown.json()["error"] == "NotFound", unknown.text
    assert client.post(f"{V1}/footprints/imports", headers=cast.auth("trader"), json=import_body()).status_code == 403
    elsewhere = client.post(f"{V1}/footprints/imports", headers=cast.auth("enterprise_a"),
                            json=import_body(host="https://internal.example"))
    assert (elsewhere.status_code, elsewhere.json()["error"]) == (422, "PactHostNotAllowed"), elsewhere.text


def test_a_footprint_is_imported_and_used_from_the_command_line(
        client: TestClient, cast: Cast, plant: dict[str, Any], monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(output.console, "_width", 250)
    cli = Cli(client, cast)
    monkeypatch.setenv("CARBONLEDGER_PACT_CLIENT_SECRET", CLIENT_SECRET)
    imported = cli.json("enterprise_a", "epd", "import", BASE, SUPPLIER, "--client-id", CLIENT_ID)
    assert (imported["footprint_id"], imported["verified_on_ledger"]) == (SUPPLIER, False)
    computed = cli.json("enterprise_a", "epd", "compute", plant["products"]["HRC-2MM"], "--pcr", "PCR-STEEL-HRC",
                        "--pcr-version", "1", "--period-start", str(PERIOD[0]), "--period-end", str(PERIOD[1]),
                        "--valid-from", str(VALID[0]), "--valid-until", str(VALID[1]), "--document", "0x" + "ab" * 32,
                        "--pact-input", f"coil,100,kilogram,{imported['id']}")
    assert Decimal(computed["upstream_kg_co2e_per_unit"]) == Decimal("123.75")
