"""The ledger's published EPDs through the PACT v3.0 API of the whole service (embedded chain, chain index): a
published EPD is an Active footprint with its figures and on-chain evidence, read right after it is published; a
superseded one is Deprecated and named by its successor; a member gets its token with its address and an API key;
unknown ids are 404 `NotFound`; lists are pages linked by a `Link` header; and the index's filters agree with the
specification's (`pact_exchange.matches`) footprint by footprint."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ledger_service.api.app import create_app
from ledger_service.epd import EPDS, hex32
from ledger_service.footprints.pact import pf_id
from ledger_service.footprints.pact_exchange import FootprintFilter, matches
from ledger_service.footprints.pact_source import IndexedFootprintSource
from ledger_service.runtime import Runtime
from tests.footprints.pact_host import basic
from tests.service.cast import ENTERPRISE_A, ENTERPRISE_B, Cast
from tests.service.conftest import _service, cast, keys_restored, runtime
from tests.service.footprint_steps import draft_body, ok, published, register_pcr, register_product
from tests.service.helpers import V1
from tests.support.footprints import Q1, VALID, doc

__all__ = ["_service", "cast", "keys_restored", "runtime"]  # the service's fixtures

GRANT = "grant_type=client_credentials"
STEEL_MG = 1_850_123_457  # 1850.123457 kgCO2e per tonne: every digit must arrive
PART_MG = 3_400_000
BRACKET_OUTPUT = {"period_start": Q1[0], "period_end": Q1[1], "quantity_milli": 12_000_000,
                  "mass_grams": 10_200_000, "value_fen": 9_600_000, "extract_hash": hex32(doc("erp brackets"))}


@pytest.fixture
def host(runtime: Runtime) -> TestClient:
    return TestClient(create_app(runtime), base_url="https://pact.example")


def bearer(host: TestClient, cast: Cast, actor: str = "enterprise_c") -> dict[str, str]:
    """A PACT token for a member: its address as client id, one of its API keys as secret."""
    reply = host.post("/auth/token", headers=basic(cast.addresses[actor], cast.tokens[actor]), content=GRANT)
    assert reply.status_code == 200, reply.text
    return {"Authorization": f"Bearer {reply.json()['access_token']}"}


def registry(runtime: Runtime) -> tuple[int, str]:
    return runtime.deployment.chain_id, runtime.deployment.addresses[EPDS]


def steel_and_bracket(host: TestClient, cast: Cast) -> dict[str, Any]:
    """The coil PCR; enterprise A's coil EPD (per tonne); enterprise B's bracket EPD (per piece, with output)."""
    ok(register_pcr(host, cast), 201)
    steel = register_product(host, cast, "enterprise_a", "HRC-2MM", "t")
    coil = published(host, cast, "enterprise_a", draft_body(steel, "t", STEEL_MG))["epd"]
    bracket = register_product(host, cast, "enterprise_b", "BRACKET 7/A", "piece")
    ok(host.post(f"{V1}/products/{bracket}/output", headers=cast.auth("enterprise_b"), json=BRACKET_OUTPUT), 201)
    part = published(host, cast, "enterprise_b", draft_body(bracket, "piece", PART_MG, cited=(coil["epd_id"],)))["epd"]
    return {"steel": steel, "coil": coil, "bracket": bracket, "part": part}


def by_epd(listed: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    return {f["extensions"][0]["data"]["epdId"]: f for f in listed}


def test_a_published_epd_is_an_active_footprint_with_its_figures_and_the_ledger_evidence(
        host: TestClient, cast: Cast, runtime: Runtime):
    made = steel_and_bracket(host, cast)
    coil = made["coil"]

    listed = host.get("/3/footprints", headers=bearer(host, cast))

    assert listed.status_code == 200, listed.text
    footprints = by_epd(listed.json()["data"])
    assert sorted(footprints) == [coil["epd_id"], made["part"]["epd_id"]]
    steel = footprints[coil["epd_id"]]
    chain_id, contract = registry(runtime)
    assert steel["id"] == str(pf_id(chain_id, contract, coil["epd_id"], 1))
    assert (steel["specVersion"], steel["status"], steel["companyName"], steel["companyIds"]) == (
        "3.0.0", "Active", "Riverside Steel", [f"urn:carbonledger:org:{ENTERPRISE_A}"])
    assert steel["productIds"] == [f"urn:carbonledger:product:{made['steel']}",
                                   f"urn:carbonledger:product:{ENTERPRISE_A}:HRC-2MM"]
    assert (steel["productNameCompany"], steel["productClassifications"]) == (
        "HRC-2MM", ["urn:pact:productclassification:un-cpc:4121"])
    assert "precedingPfIds" not in steel
    assert (steel["created"], steel["validityPeriodStart"], steel["validityPeriodEnd"]) == (
        coil["at"]["block_time"].replace("+00:00", "Z"), "2026-01-01T00:00:00Z", "2030-01-01T00:00:00Z")
    pcf = steel["pcf"]
    assert (pcf["declaredUnitOfMeasurement"], pcf["declaredUnitAmount"], pcf["productMassPerDeclaredUnit"]) == (
        "kilogram", "1000", "1000")
    assert (pcf["pcfExcludingBiogenicUptake"], pcf["pcfIncludingBiogenicUptake"], pcf["fossilGhgEmissions"]) == (
        "1850.123457", "1850.123457", "1850.123457")
    assert (pcf["referencePeriodStart"], pcf["referencePeriodEnd"]) == ("2026-01-01T00:00:00Z", "2026-04-01T00:00:00Z")
    assert (pcf["primaryDataShare"], pcf["exemptedEmissionsPercent"]) == ("62", "1")
    assert pcf["productOrSectorSpecificRules"][0]["ruleNames"] == ["Hot-rolled steel coil v1"]
    assert steel["productDescription"] == "HRC-2MM, cradle-to-gate, per t"
    assert (pcf["verification"]["providerName"], pcf["verification"]["coverage"]) == ("Certa Verification",
                                                                                      "product level")
    evidence = steel["extensions"][0]["data"]
    assert {k: evidence[k] for k in ("epdId", "epdVersion", "chainId", "contract", "transactionHash",
                                     "provenanceCommitment", "documentHash", "ledgerStatus", "updated")} == {
        "epdId": coil["epd_id"], "epdVersion": 1, "chainId": chain_id, "contract": contract,
        "transactionHash": coil["at"]["tx_hash"], "provenanceCommitment": hex32(doc(f"prov {STEEL_MG}")),
        "documentHash": coil["document_hash"], "ledgerStatus": "published", "updated": None}
    assert evidence["pcr"] == {"id": coil["pcr_id"], "version": 1}

    # The bracket: per piece, its mass per piece from its recorded output (10.2 t over 12,000 pieces).
    part = footprints[made["part"]["epd_id"]]
    assert (part["pcf"]["declaredUnitOfMeasurement"], part["pcf"]["declaredUnitAmount"],
            part["pcf"]["productMassPerDeclaredUnit"], part["pcf"]["pcfExcludingBiogenicUptake"]) == (
        "piece", "1", "0.85", "3.4")
    assert part["productIds"][1] == f"urn:carbonledger:product:{ENTERPRISE_B}:BRACKET%207%2FA"
    assert part["companyName"] == "Eastern Cement"

    one = host.get(f"/3/footprints/{steel['id']}", headers=bearer(host, cast, "trader"))
    assert one.status_code == 200 and one.json()["data"] == steel


def test_a_superseded_epd_is_deprecated_and_its_new_version_names_it(host: TestClient, cast: Cast,
                                                                     runtime: Runtime):
    made = steel_and_bracket(host, cast)
    old = made["coil"]["epd_id"]
    new = published(host, cast, "enterprise_a",
                    draft_body(made["steel"], "t", 1_700_000_001, supersedes=old))["epd"]
    auth = bearer(host, cast)

    footprints = by_epd(host.get("/3/footprints", headers=auth).json()["data"])

    chain_id, contract = registry(runtime)
    old_id, new_id = pf_id(chain_id, contract, old, 1), pf_id(chain_id, contract, new["epd_id"], 2)
    assert (footprints[old]["id"], footprints[old]["status"]) == (str(old_id), "Deprecated")
    assert footprints[old]["extensions"][0]["data"]["ledgerStatus"] == "superseded"
    assert footprints[old]["extensions"][0]["data"]["updated"] == new["at"]["block_time"].replace("+00:00", "Z")
    assert (footprints[new["epd_id"]]["id"], footprints[new["epd_id"]]["status"]) == (str(new_id), "Active")
    assert footprints[new["epd_id"]]["precedingPfIds"] == [str(old_id)]
    assert footprints[new["epd_id"]]["pcf"]["pcfExcludingBiogenicUptake"] == "1700.000001"
    assert footprints[new["epd_id"]]["extensions"][0]["data"]["epdVersion"] == 2
    assert host.get(f"/3/footprints/{old_id}", headers=auth).json()["data"]["status"] == "Deprecated"
    active = host.get("/3/footprints", params={"status": "Active",
                                               "productId": f"urn:carbonledger:product:{ENTERPRISE_A}:HRC-2MM"},
                      headers=auth)
    assert [f["id"] for f in active.json()["data"]] == [str(new_id)]


def test_a_member_gets_a_token_with_its_address_and_api_key_and_nobody_else_does(host: TestClient, cast: Cast):
    steel_and_bracket(host, cast)
    assert len(host.get("/3/footprints", headers=bearer(host, cast, "verifier")).json()["data"]) == 2
    wrong = host.post("/auth/token", headers=basic(cast.addresses["verifier"], cast.tokens["trader"]), content=GRANT)
    assert (wrong.status_code, wrong.json()["error"]) == (401, "invalid_client")
    assert host.get("/3/footprints", headers=cast.auth("verifier")).json()["code"] == "BadRequest"


def test_an_unknown_footprint_is_not_found(host: TestClient, cast: Cast, runtime: Runtime):
    made = steel_and_bracket(host, cast)
    auth = bearer(host, cast)
    chain_id, contract = registry(runtime)
    never = pf_id(chain_id, contract, made["part"]["epd_id"] + 1, 1)
    elsewhere = pf_id(chain_id + 1, contract, made["coil"]["epd_id"], 1)  # the same EPD on another chain

    for unknown in (never, elsewhere, uuid.uuid4(), "not-a-uuid"):
        reply = host.get(f"/3/footprints/{unknown}", headers=auth)
        assert (reply.status_code, reply.json()["code"]) == (404, "NotFound"), unknown


def test_the_list_is_paged_and_linked(host: TestClient, cast: Cast):
    made = steel_and_bracket(host, cast)
    third = published(host, cast, "enterprise_a", draft_body(made["steel"], "t", 1_900_000_000))["epd"]
    auth = bearer(host, cast)

    first = host.get("/3/footprints", params={"limit": 2}, headers=auth)

    assert [f["extensions"][0]["data"]["epdId"] for f in first.json()["data"]] == [
        made["coil"]["epd_id"], made["part"]["epd_id"]]
    links = first.headers["link"]
    assert '<https://pact.example/3/footprints?offset=2&limit=2>; rel="next"' in links
    assert '<https://pact.example/3/footprints?offset=2&limit=2>; rel="last"' in links
    rest = host.get("/3/footprints", params={"offset": 2, "limit": 2}, headers=auth)
    assert [f["extensions"][0]["data"]["epdId"] for f in rest.json()["data"]] == [third["epd_id"]]
    assert 'rel="prev"' in rest.headers["link"] and 'rel="next"' not in rest.headers["link"]
    assert "link" not in host.get("/3/footprints", headers=auth).headers  # one page holds them all


def test_the_indexs_filters_agree_with_the_specifications(host: TestClient, cast: Cast, runtime: Runtime):
    made = steel_and_bracket(host, cast)
    published(host, cast, "enterprise_a", draft_body(made["steel"], "t", 1_700_000_000,
                                                     supersedes=made["coil"]["epd_id"]))
    source = IndexedFootprintSource(runtime.sessions, runtime.indexing.index_up_to_date, lambda: registry(runtime))
    every = source.list(FootprintFilter(), 0, 100).footprints
    assert len(every) == 3
    start, end = (datetime.fromtimestamp(t, UTC) for t in VALID)
    steel_urn = f"urn:carbonledger:product:{made['steel']}"
    queries = [
        FootprintFilter(product_ids=frozenset({steel_urn})),
        FootprintFilter(product_ids=frozenset({steel_urn.upper(), "urn:carbonledger:product:12:BRACKET 7/A"})),
        FootprintFilter(product_ids=frozenset({f"urn:carbonledger:product:{ENTERPRISE_B}:BRACKET%207%2FA"})),
        FootprintFilter(company_ids=frozenset({f"urn:carbonledger:org:{ENTERPRISE_B}", "urn:carbonledger:org:x"})),
        FootprintFilter(classifications=frozenset({"urn:pact:productclassification:un-cpc:4121"})),
        FootprintFilter(classifications=frozenset({"urn:pact:productclassification:un-cpc:9999"})),
        FootprintFilter(geographies=frozenset({"CN"})),
        FootprintFilter(statuses=frozenset({"Active"})),
        FootprintFilter(statuses=frozenset({"Deprecated"})),
        FootprintFilter(statuses=frozenset({"Active", "Deprecated"})),
        FootprintFilter(statuses=frozenset({"Retired"})),
        FootprintFilter(valid_on=start), FootprintFilter(valid_on=end),
        FootprintFilter(valid_on=end + timedelta(microseconds=1)),
        FootprintFilter(valid_on=start - timedelta(microseconds=1)),
        FootprintFilter(valid_after=start), FootprintFilter(valid_after=start - timedelta(microseconds=1)),
        FootprintFilter(valid_before=end), FootprintFilter(valid_before=end + timedelta(microseconds=1)),
        FootprintFilter(company_ids=frozenset({f"urn:carbonledger:org:{ENTERPRISE_A}"}),
                        statuses=frozenset({"Deprecated"})),
    ]
    for query in queries:
        page = source.list(query, 0, 100)
        expected = [f.id for f in every if matches(f, query)]
        assert ([f.id for f in page.footprints], page.total) == (expected, len(expected)), query
    assert sum(1 for q in queries if source.list(q, 0, 100).total) >= 10  # most filters select something
