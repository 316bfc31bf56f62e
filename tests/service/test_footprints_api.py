"""Product footprints through the HTTP API: a PCR, products and output, a draft attested by a verifier of another
organisation and published by the product's owner; who may do and see what; refusals with the decoded custom
error; and the supply-chain flag the service sends itself when a cited EPD is superseded or withdrawn."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from ledger_core.chain.outbox import Intent
from ledger_service.epd import hex32
from ledger_service.membership import ROLE_IDS
from ledger_service.runtime import Runtime
from tests.service.cast import ENTERPRISE_A, ENTERPRISE_B, Cast, account_of
from tests.service.credit_steps import chain_now, travel
from tests.service.footprint_steps import (
    HRC,
    attest,
    draft,
    draft_body,
    ok,
    publish,
    published,
    register_pcr,
    register_product,
    supersede_steel,
    supply_chain,
)
from tests.service.helpers import V1, submit
from tests.support.footprints import Q1, Q2, VALID, doc

OUTPUT = {"period_start": Q1[0], "period_end": Q1[1], "quantity_milli": 120_000_000, "mass_grams": 120_000_000_000,
          "value_fen": 54_000_000_000, "extract_hash": hex32(doc("erp q1"))}


def error_of(reply: object, status: int) -> dict[str, object]:
    body = ok(reply, status)  # type: ignore[arg-type]
    return dict(body)


# ---------------------------------------------------------------------- lifecycle


def test_a_footprint_goes_from_pcr_to_a_published_epd_that_every_member_reads(client: TestClient, cast: Cast):
    pcr = ok(register_pcr(client, cast), 201)["pcr"]
    assert (pcr["pcr_id"], pcr["version"], pcr["allocation"], pcr["at"]["tx_hash"][:2]) == (HRC, 1, "mass", "0x")
    steel = register_product(client, cast, "enterprise_a", "HRC-2MM", "t")
    output = ok(client.post(f"{V1}/products/{steel}/output", headers=cast.auth("enterprise_a2"), json=OUTPUT), 201)
    assert (output["output"]["index"], output["output"]["quantity_milli"]) == (1, 120_000_000)

    created = ok(draft(client, cast, "enterprise_a", draft_body(steel, "t", 1_850_000_000)), 201)
    assert (created["status"], created["owner_org_id"], created["epd_id"]) == ("draft", ENTERPRISE_A, None)
    attested = ok(attest(client, cast, created["draft_id"]))["draft"]
    assert attested["status"] == "attested" and attested["attestation"]["verifier_org_id"] == 20
    answer = ok(publish(client, cast, "enterprise_a", created["draft_id"]), 201)

    epd = answer["epd"]
    assert (epd["status"], epd["flagged"], epd["owner_org_id"], epd["mg_co2e_per_unit"]) == (
        "published", False, ENTERPRISE_A, 1_850_000_000)
    assert epd["draft_commitment"] == created["draft_commitment"]
    assert ok(client.get(f"{V1}/epds/drafts/{created['draft_id']}", headers=cast.auth("enterprise_a")))[
        "epd_id"] == epd["epd_id"]
    for reader in ("trader", "enterprise_b", "enterprise_c", "verifier"):
        assert ok(client.get(f"{V1}/epds/{epd['epd_id']}", headers=cast.auth(reader)))["status"] == "published"
    assert ok(client.get(f"{V1}/epds", params={"owner_org_id": ENTERPRISE_A},
                         headers=cast.auth("trader")))["page"]["total"] == 1
    assert ok(client.get(f"{V1}/pcrs", headers=cast.auth("trader")))["items"][0]["commitment"] == pcr["commitment"]
    assert ok(client.get(f"{V1}/products/{steel}", headers=cast.auth("enterprise_c")))["own_product_id"] == "HRC-2MM"


# ---------------------------------------------------------------------- who may do what


def test_only_a_regulator_registers_pcrs_and_versions_only_increase(client: TestClient, cast: Cast):
    refused = error_of(register_pcr(client, cast, actor="enterprise_a"), 403)
    assert refused["error"] == "MissingRole"
    ok(register_pcr(client, cast, version=2), 201)
    stale = error_of(register_pcr(client, cast, version=1), 409)
    assert stale["error"] == "PcrVersionNotIncreasing" and "version 2" in str(stale["message"])


def test_products_are_registered_once_and_output_periods_do_not_overlap(client: TestClient, cast: Cast):
    steel = register_product(client, cast, "enterprise_a", "HRC-2MM", "t")
    again = error_of(client.post(f"{V1}/products", headers=cast.auth("enterprise_a2"), json={
        "own_product_id": "HRC-2MM", "cpc_code": "4121", "declared_unit": "t", "facility": "F1"}), 409)
    assert again["error"] == "ProductExists"
    assert error_of(client.post(f"{V1}/products", headers=cast.auth("trader"), json={
        "own_product_id": "X", "cpc_code": "1", "declared_unit": "t", "facility": "F1"}), 403)["error"] == "MissingRole"
    ok(client.post(f"{V1}/products/{steel}/output", headers=cast.auth("enterprise_a"), json=OUTPUT), 201)
    overlap = error_of(client.post(f"{V1}/products/{steel}/output", headers=cast.auth("enterprise_a"), json=OUTPUT),
                       409)
    assert overlap["error"] == "OutputPeriodOverlap"
    backwards = client.post(f"{V1}/products/{steel}/output", headers=cast.auth("enterprise_a"),
                            json={**OUTPUT, "period_end": Q1[0]})
    assert backwards.status_code == 422


def test_another_enterprise_cannot_record_draft_or_publish_for_a_product_it_does_not_own(
        client: TestClient, cast: Cast):
    ok(register_pcr(client, cast), 201)
    steel = register_product(client, cast, "enterprise_a", "HRC-2MM", "t")
    output = client.post(f"{V1}/products/{steel}/output", headers=cast.auth("enterprise_b"), json=OUTPUT)
    assert error_of(output, 403)["error"] == "NotOrganisationMember"
    foreign = draft(client, cast, "enterprise_b", draft_body(steel, "t", 1))
    assert error_of(foreign, 403)["error"] == "NotOrganisationMember"
    draft_id = ok(draft(client, cast, "enterprise_a", draft_body(steel, "t", 1)), 201)["draft_id"]
    ok(attest(client, cast, draft_id))

    stolen = error_of(publish(client, cast, "enterprise_b", draft_id), 403)

    assert stolen["error"] == "NotOrganisationMember"
    assert error_of(publish(client, cast, "verifier", draft_id), 403)["error"] == "MissingRole"


def test_a_verifier_of_the_drafts_own_organisation_is_refused(client: TestClient, cast: Cast, runtime: Runtime):
    account = account_of("steel_verifier")
    runtime.keystore.store(account, label="steel_verifier")
    assert runtime.chain.embedded is not None and runtime.bootstrap_regulator is not None
    runtime.chain.embedded.fund([account.address])
    submit(runtime, Intent("Membership", "admit", (account.address, ENTERPRISE_A, [ROLE_IDS["VERIFIER"]]),
                           runtime.bootstrap_regulator))
    cast.tokens["steel_verifier"] = runtime.api_keys.issue(account.address, timedelta(hours=1)).token
    ok(register_pcr(client, cast), 201)
    steel = register_product(client, cast, "enterprise_a", "HRC-2MM", "t")
    draft_id = ok(draft(client, cast, "enterprise_a", draft_body(steel, "t", 1)), 201)["draft_id"]

    refused = error_of(attest(client, cast, draft_id, actor="steel_verifier"), 403)

    assert refused["error"] == "ConflictOfInterest"
    assert error_of(attest(client, cast, draft_id, actor="enterprise_a2"), 403)["error"] == "MissingRole"
    assert error_of(publish(client, cast, "enterprise_a", draft_id), 409)["error"] == "DraftNotAttested"
    ok(attest(client, cast, draft_id))
    assert error_of(attest(client, cast, draft_id), 409)["error"] == "AlreadyAttested"


def test_drafts_and_output_are_seen_by_their_organisation_verifiers_and_regulators_only(
        client: TestClient, cast: Cast):
    ok(register_pcr(client, cast), 201)
    steel = register_product(client, cast, "enterprise_a", "HRC-2MM", "t")
    ok(client.post(f"{V1}/products/{steel}/output", headers=cast.auth("enterprise_a"), json=OUTPUT), 201)
    draft_id = ok(draft(client, cast, "enterprise_a", draft_body(steel, "t", 1)), 201)["draft_id"]

    for reader, status in (("enterprise_a2", 200), ("verifier", 200), ("regulator", 200), ("enterprise_b", 403),
                           ("trader", 403)):
        assert client.get(f"{V1}/epds/drafts/{draft_id}", headers=cast.auth(reader)).status_code == status, reader
        assert client.get(f"{V1}/products/{steel}/output", headers=cast.auth(reader)).status_code == status, reader
    assert ok(client.get(f"{V1}/epds/drafts", headers=cast.auth("enterprise_b")))["page"]["total"] == 0
    assert ok(client.get(f"{V1}/epds/drafts", headers=cast.auth("verifier")))["page"]["total"] == 1
    assert client.get(f"{V1}/epds/drafts", params={"owner_org_id": ENTERPRISE_A},
                      headers=cast.auth("enterprise_b")).status_code == 403


# ---------------------------------------------------------------------- citations


def test_citing_a_withdrawn_or_expired_supplier_epd_is_refused_with_the_decoded_error(
        client: TestClient, cast: Cast, runtime: Runtime):
    chain = supply_chain(client, cast)
    steel, bracket, steel_epd = chain["steel"], chain["bracket"], chain["steel_epd"]
    ok(client.post(f"{V1}/epds/{steel_epd}/withdraw", headers=cast.auth("enterprise_a"),
                   json={"reason_hash": hex32(doc("recalled"))}))

    withdrawn = error_of(draft(client, cast, "enterprise_b", draft_body(bracket, "piece", 5, cited=(steel_epd,))),
                         409)

    assert (withdrawn["error"], withdrawn["args"]) == ("EpdNotPublished", {"epdId": steel_epd, "epdStatus": 3})
    later = published(client, cast, "enterprise_a", draft_body(steel, "t", 7, valid=(Q2[0], VALID[1])))["epd"]
    not_covering = error_of(draft(client, cast, "enterprise_b",
                                  draft_body(bracket, "piece", 5, cited=(later["epd_id"],))), 409)
    assert not_covering["error"] == "CitedEpdNotValid"
    soon = chain_now(runtime) + 3_600
    short = published(client, cast, "enterprise_a", draft_body(steel, "t", 8, valid=(VALID[0], soon)))["epd"]
    travel(runtime, 7_200)
    expired = error_of(draft(client, cast, "enterprise_b", draft_body(bracket, "piece", 5, cited=(short["epd_id"],))),
                       409)
    assert (expired["error"], expired["args"]["validUntil"]) == ("CitedEpdNotValid", soon)


def test_a_draft_whose_supplier_withdrew_before_publication_is_refused(client: TestClient, cast: Cast):
    chain = supply_chain(client, cast)
    body = draft_body(chain["bracket"], "piece", 9, cited=(chain["steel_epd"],))
    draft_id = ok(draft(client, cast, "enterprise_b", body), 201)["draft_id"]
    ok(attest(client, cast, draft_id))
    ok(client.post(f"{V1}/epds/{chain['steel_epd']}/withdraw", headers=cast.auth("enterprise_a"),
                   json={"reason_hash": hex32(doc("recalled"))}))

    refused = error_of(publish(client, cast, "enterprise_b", draft_id), 409)

    assert refused["error"] == "EpdNotPublished"


# ---------------------------------------------------------------------- supersession and flags


def test_a_supersession_flags_the_citing_footprint_through_the_service(client: TestClient, cast: Cast):
    chain = supply_chain(client, cast)
    steel_epd, part_epd = chain["steel_epd"], chain["part_epd"]

    answer = supersede_steel(client, cast, chain)

    assert answer["flagged"] == [part_epd] and len(answer["transactions"]) == 2
    old = ok(client.get(f"{V1}/epds/{steel_epd}", headers=cast.auth("trader")))
    assert (old["status"], old["superseded_by"], old["cited_by"]) == ("superseded", answer["epd"]["epd_id"],
                                                                      [part_epd])
    flagged = ok(client.get(f"{V1}/epds/flagged", headers=cast.auth("enterprise_b")))["items"]
    assert [e["epd_id"] for e in flagged] == [part_epd]
    assert [(f["cited_epd_id"], f["cited_status"]) for f in flagged[0]["flags"]] == [(steel_epd, "superseded")]
    assert ok(client.get(f"{V1}/epds/flagged", headers=cast.auth("enterprise_a")))["items"] == []
    assert ok(client.get(f"{V1}/epds/flagged", params={"owner_org_id": ENTERPRISE_B},
                         headers=cast.auth("regulator")))["page"]["total"] == 1
    assert client.get(f"{V1}/epds/flagged", params={"owner_org_id": ENTERPRISE_B},
                      headers=cast.auth("enterprise_a")).status_code == 403
    again = error_of(client.post(f"{V1}/epds/{part_epd}/flag", headers=cast.auth("trader")), 409)
    assert again["error"] == "AlreadyFlagged"


def test_a_withdrawal_flags_the_citing_footprint_and_only_the_owner_withdraws(client: TestClient, cast: Cast):
    chain = supply_chain(client, cast)
    reason = {"reason_hash": hex32(doc("recalled"))}
    foreign = client.post(f"{V1}/epds/{chain['steel_epd']}/withdraw", headers=cast.auth("enterprise_b"), json=reason)
    assert error_of(foreign, 403)["error"] == "NotOrganisationMember"

    # Even without waiting asked for, a withdrawal that has citing footprints to flag is waited for.
    answer = ok(client.post(f"{V1}/epds/{chain['steel_epd']}/withdraw", params={"wait": False},
                            headers=cast.auth("enterprise_a"), json=reason))

    assert answer["epd"]["status"] == "withdrawn" and answer["flagged"] == [chain["part_epd"]]
    assert ok(client.get(f"{V1}/epds/{chain['part_epd']}", headers=cast.auth("enterprise_c")))["flagged"] is True
    twice = client.post(f"{V1}/epds/{chain['steel_epd']}/withdraw", headers=cast.auth("enterprise_a"), json=reason)
    assert error_of(twice, 409)["error"] == "EpdNotPublished"


def test_a_footprint_with_nothing_stale_is_not_flagged(client: TestClient, cast: Cast):
    chain = supply_chain(client, cast)
    refused = error_of(client.post(f"{V1}/epds/{chain['part_epd']}/flag", headers=cast.auth("trader")), 409)
    assert refused["error"] == "NothingToFlag"
    assert client.get(f"{V1}/epds/999", headers=cast.auth("trader")).status_code == 404


def test_unknown_pcrs_and_products_and_bad_hashes_are_client_errors(client: TestClient, cast: Cast):
    steel = register_product(client, cast, "enterprise_a", "HRC-2MM", "t")
    unknown_pcr = error_of(draft(client, cast, "enterprise_a", draft_body(steel, "t", 1)), 404)
    assert unknown_pcr["error"] == "UnknownPcrVersion"
    unknown = "0x" + "ab" * 32
    assert error_of(client.get(f"{V1}/products/{unknown}", headers=cast.auth("trader")), 404)["error"] == (
        "UnknownProduct")
    assert client.get(f"{V1}/products/0x12", headers=cast.auth("trader")).status_code == 422
