"""`GET /api/v1/audit/epds/{epd_id}/trace`: the parts maker's bracket EPD and the steel EPD it cites, tier by
tier, with each hop's on-chain evidence and the access rule applied to its owner; computed from anchored meter
data, down to a proved reading in each workshop; the supplier's withdrawal and the flag the service sends itself
show in the trace."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from ledger_core.db.models import EpdDraftRecord
from ledger_service.epd import from_hex32, hex32
from ledger_service.runtime import Runtime
from tests.service.cast import ENTERPRISE_A, ENTERPRISE_B, Cast
from tests.service.footprint_steps import ok, supply_chain
from tests.service.helpers import V1
from tests.service.product_trace_steps import computed_supply_chain
from tests.support.footprints import doc


def trace(client: TestClient, cast: Cast, actor: str, epd_id: int, **params: int) -> dict:
    return dict(ok(client.get(f"{V1}/audit/epds/{epd_id}/trace", headers=cast.auth(actor), params=params)))


def test_the_regulator_traces_both_tiers_with_their_on_chain_evidence(client: TestClient, cast: Cast):
    chain = supply_chain(client, cast)

    t = trace(client, cast, "regulator2", chain["part_epd"])

    assert (t["epd_id"], t["tiers"], t["verified"], t["failed_checks"]) == (chain["part_epd"], 2, True, [])
    part, steel = t["hops"]
    assert [(h["tier"], h["epd"]["epd_id"], h["epd"]["owner_org_id"], h["cited_by"]) for h in t["hops"]] == [
        (0, chain["part_epd"], ENTERPRISE_B, None), (1, chain["steel_epd"], ENTERPRISE_A, chain["part_epd"])]
    assert (steel["epd"]["status"], steel["epd"]["mg_co2e_per_unit"]) == ("published", 1_850_000_000)
    assert (steel["current"], steel["covers_citing_period"]) == (True, True)
    assert steel["epd"]["at"]["tx_hash"].startswith("0x") and steel["owner"] == "Riverside Steel"
    assert all(h["access"]["shown"] and "a regulator sees every organisation" in h["access"]["rule"]
               for h in t["hops"])
    # Drafts given by hand keep no provenance record: nothing to check below the on-chain commitment.
    assert [(h["provenance_stored"], h["provenance_matches"]) for h in t["hops"]] == [(False, None), (False, None)]
    assert part["epd"]["cited_epd_ids"] == [chain["steel_epd"]]


def test_a_computed_supply_chain_traces_down_to_a_proved_reading_in_each_company(
        client: TestClient, cast: Cast, runtime: Runtime):
    chain = computed_supply_chain(client, cast, runtime)

    t = trace(client, cast, "regulator2", chain["part_epd"], readings=2)

    assert (t["tiers"], t["verified"]) == (2, True)
    for hop in t["hops"]:
        assert hop["provenance_matches"] and hop["stored_commitment"] == hop["epd"]["provenance_commitment"]
        assert hop["subtotals"] and all(s["anchored"] and s["sql_matches"] for s in hop["subtotals"])
        readings = [r for s in hop["subtotals"] for r in s["readings"]]
        assert len(readings) == 2 * len(hop["subtotals"]) and all(r["proof_valid"] and r["matches"] for r in readings)
        assert all(r["proof"]["root"] == s["anchor_root"] for s in hop["subtotals"] for r in s["readings"])
    (coil,) = t["hops"][0]["inputs"]
    assert (coil["reference"], coil["cited_on_chain"], coil["hash_matches"], coil["cut_off"]) == (
        str(chain["steel_epd"]), True, True, False)
    customer = trace(client, cast, "enterprise_b", chain["part_epd"])
    assert [h["subtotals"] != [] for h in customer["hops"]] == [True, False] and customer["verified"]


def test_a_stored_provenance_altered_after_publication_fails_the_trace(client: TestClient, cast: Cast,
                                                                      runtime: Runtime):
    chain = computed_supply_chain(client, cast, runtime)
    steel = trace(client, cast, "regulator2", chain["steel_epd"])["hops"][0]
    with runtime.sessions.begin() as session:
        row = session.scalar(select(EpdDraftRecord).where(
            EpdDraftRecord.draft_commitment == from_hex32(steel["epd"]["draft_commitment"])))
        record = row.content["provenance"]
        row.content = {**row.content, "provenance": {**record, "site_mg": record["site_mg"] // 2}}

    t = trace(client, cast, "verifier", chain["part_epd"])

    assert t["verified"] is False and t["hops"][1]["provenance_matches"] is False
    assert t["failed_checks"] == [f"EPD {chain['steel_epd']}: the stored provenance record's commitment "
                                  f"{t['hops'][1]['stored_commitment']} is not the on-chain "
                                  f"{steel['epd']['provenance_commitment']}"]


def test_the_customer_sees_the_suppliers_published_epd_under_the_access_rule(client: TestClient, cast: Cast):
    chain = supply_chain(client, cast)

    part, steel = trace(client, cast, "enterprise_b", chain["part_epd"])["hops"]

    assert part["access"]["shown"] and part["provenance_stored"] is False
    assert not steel["access"]["shown"] and steel["provenance_stored"] is None
    assert steel["access"]["rule"].startswith("product footprint drafts and output: a member sees its own "
                                              "organisation; organisation 11 is not organisation 12")
    assert steel["epd"]["provenance_commitment"] == hex32(doc("prov 1850000000"))


def test_a_withdrawn_supplier_shows_withdrawn_and_the_citing_epd_flagged(client: TestClient, cast: Cast):
    chain = supply_chain(client, cast)
    ok(client.post(f"{V1}/epds/{chain['steel_epd']}/withdraw", headers=cast.auth("enterprise_a"),
                   json={"reason_hash": hex32(doc("recalled"))}))

    part, steel = trace(client, cast, "trader", chain["part_epd"])["hops"]

    assert (steel["epd"]["status"], steel["epd"]["withdrawal_reason"]) == ("withdrawn", hex32(doc("recalled")))
    assert steel["current"] is False
    assert (part["epd"]["status"], part["epd"]["flagged"], part["flagged_citations"], part["current"]) == (
        "published", True, [chain["steel_epd"]], False)
    assert not part["access"]["shown"] and not steel["access"]["shown"]


def test_an_unknown_epd_is_not_found_and_the_sample_is_bounded(client: TestClient, cast: Cast):
    missing = client.get(f"{V1}/audit/epds/999/trace", headers=cast.auth("regulator2"))
    assert (missing.status_code, missing.json()["error"]) == (404, "UnknownEpd")
    assert client.get(f"{V1}/audit/epds/1/trace", headers=cast.auth("regulator2"),
                      params={"readings": 21}).status_code == 422
    assert client.get(f"{V1}/audit/epds/1/trace").status_code == 401
