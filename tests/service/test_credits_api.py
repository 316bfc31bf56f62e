"""Offset credits through the API: projects, verification, issuance, transfers, retirement with its
certificate, cancellation, compliance surrender within the cap, holdings, relayed transactions."""

from __future__ import annotations

import pytest
from eth_utils import keccak
from fastapi.testclient import TestClient

from ledger_core.chain.outbox import Intent
from ledger_service.runtime import Runtime
from tests.service.cast import ENTERPRISE_A, YEAR, Cast
from tests.service.credit_steps import (
    H1_2025,
    credit_balance,
    issue,
    register_project,
    verified_batch,
    verify,
)
from tests.service.helpers import V1, sanction
from tests.service.test_transactions_api import relay, signed_call

RETIREMENT = {"beneficiary": "Riverside Steel Ltd", "purpose": "Offsetting 2024 business travel",
              "jurisdiction": "CN", "consumption_start": 1_704_067_200, "consumption_end": 1_735_689_599}


@pytest.fixture
def batch(client: TestClient, cast: Cast) -> dict:
    return verified_batch(client, cast)


def transfer(client: TestClient, cast: Cast, sender: str, receiver: str, batch_id: int, amount: int):
    return client.post(f"{V1}/credits/transfers", headers=cast.auth(sender),
                       json={"to": cast.addresses[receiver], "batch_id": batch_id, "amount": amount})


def retire(client: TestClient, cast: Cast, name: str, batch_id: int, amount: int, **overrides: object):
    return client.post(f"{V1}/credits/retirements", headers=cast.auth(name),
                       json={"batch_id": batch_id, "amount": amount, **RETIREMENT, **overrides})


# ------------------------------------------------------------------ projects


def test_a_regulator_registers_a_project_that_every_member_can_read(client: TestClient, cast: Cast):
    project_id = register_project(client, cast)
    assert project_id == "0x" + keccak(text="CCER-1234-WIND-GANSU").hex()
    reply = client.get(f"{V1}/credits/projects/{project_id}", headers=cast.auth("trader"))
    assert reply.status_code == 200
    assert reply.json() | {"last_period_end": 0} == {
        "project_id": project_id, "owner": cast.addresses["enterprise_a"], "status": "active", "last_period_end": 0,
        "document_hash": "0x" + keccak(text="project design document v3").hex(),
        "methodology": "CCER-14-001-V01", "location": "CN-GS"}
    listed = client.get(f"{V1}/credits/projects", headers=cast.auth("enterprise_b")).json()
    assert [p["project_id"] for p in listed["items"]] == [project_id] and listed["page"]["total"] == 1


def test_only_a_regulator_registers_a_project(client: TestClient, cast: Cast):
    reply = client.post(f"{V1}/credits/projects", headers=cast.auth("enterprise_a"), json={
        "code": "X", "owner": cast.addresses["enterprise_a"], "methodology": "M", "location": "CN"})
    assert reply.status_code == 403 and reply.json()["error"] == "MissingRole"


def test_registering_a_project_twice_is_a_conflict(client: TestClient, cast: Cast):
    register_project(client, cast)
    reply = client.post(f"{V1}/credits/projects", headers=cast.auth("regulator"), json={
        "code": "CCER-1234-WIND-GANSU", "owner": cast.addresses["enterprise_b"], "methodology": "M",
        "location": "CN"})
    assert reply.status_code == 409 and reply.json()["error"] == "ProjectExists"


def test_an_unknown_project_is_not_found(client: TestClient, cast: Cast):
    reply = client.get(f"{V1}/credits/projects/0x{'11' * 32}", headers=cast.auth("trader"))
    assert reply.status_code == 404 and reply.json()["error"] == "UnknownProject"


def test_a_suspended_project_gets_no_credits_until_reinstated(client: TestClient, cast: Cast):
    project_id = register_project(client, cast)
    assert verify(client, cast, project_id).status_code == 200
    reply = client.post(f"{V1}/credits/projects/{project_id}/suspend", headers=cast.auth("regulator"),
                        json={"reason": "finding 2025-07"})
    assert reply.status_code == 200 and reply.json()["project"]["status"] == "suspended"
    refused = issue(client, cast, project_id)
    assert refused.status_code == 409 and refused.json()["error"] == "ProjectNotActive"
    again = client.post(f"{V1}/credits/projects/{project_id}/suspend", headers=cast.auth("regulator"),
                        json={"reason": "twice"})
    assert again.status_code == 409
    reinstated = client.post(f"{V1}/credits/projects/{project_id}/reinstate", headers=cast.auth("regulator"))
    assert reinstated.json()["project"]["status"] == "active"
    assert issue(client, cast, project_id).status_code == 201


def test_only_a_regulator_suspends_a_project(client: TestClient, cast: Cast):
    project_id = register_project(client, cast)
    reply = client.post(f"{V1}/credits/projects/{project_id}/suspend", headers=cast.auth("enterprise_a"),
                        json={"reason": "mine"})
    assert reply.status_code == 403


# ------------------------------------------------------------------ verification and issuance


def test_only_a_verifier_submits_a_statement_and_only_once_per_period(client: TestClient, cast: Cast):
    project_id = register_project(client, cast)
    wrong = client.post(f"{V1}/credits/projects/{project_id}/verifications", headers=cast.auth("enterprise_a"),
                        json={"period_start": 1, "period_end": 2, "verified_tonnes": 5, "statement": "s"})
    assert wrong.status_code == 403
    assert verify(client, cast, project_id).status_code == 200
    twice = verify(client, cast, project_id)
    assert twice.status_code == 409 and twice.json()["error"] == "VerificationExists"


def test_a_period_must_run_forwards(client: TestClient, cast: Cast):
    project_id = register_project(client, cast)
    reply = verify(client, cast, project_id, period=(20, 10))
    assert reply.status_code == 422


def test_issuance_gives_the_owner_a_batch_with_the_next_serial_range(client: TestClient, cast: Cast,
                                                                     runtime: Runtime, batch: dict):
    assert batch | {"statement_hash": None, "verifier": None} == {
        "batch_id": 1, "project_id": batch["project_id"], "vintage": 2024, "period_start": 1_704_067_200,
        "period_end": 1_735_689_599, "statement_hash": None, "amount": 1000, "serial_start": 1, "serial_end": 1000,
        "verifier": None, "next_serial": 1, "retired": 0, "cancelled": 0, "surrendered": 0, "supply": 1000}
    assert batch["verifier"] == cast.addresses["verifier"]
    assert credit_balance(runtime, cast, "enterprise_a", 1) == 1000
    assert verify(client, cast, batch["project_id"], 300, H1_2025).status_code == 200
    second = issue(client, cast, batch["project_id"], 300, H1_2025, 2025).json()["batch"]
    assert (second["batch_id"], second["serial_start"], second["serial_end"]) == (2, 1001, 1300)
    listed = client.get(f"{V1}/credits/batches", headers=cast.auth("trader"),
                        params={"project_id": batch["project_id"]}).json()
    assert [(b["batch_id"], b["amount"]) for b in listed["items"]] == [(1, 1000), (2, 300)]


def test_a_period_is_issued_once_and_never_beyond_what_was_verified(client: TestClient, cast: Cast, batch: dict):
    twice = issue(client, cast, batch["project_id"])
    assert twice.status_code == 409 and twice.json()["error"] == "PeriodAlreadyIssued"
    assert verify(client, cast, batch["project_id"], 300, H1_2025).status_code == 200
    over = issue(client, cast, batch["project_id"], 301, H1_2025)
    assert over.status_code == 409 and over.json()["error"] == "ExceedsVerifiedAmount"
    assert over.json()["args"] == {"amount": 301, "verifiedTonnes": 300}


def test_only_a_regulator_issues(client: TestClient, cast: Cast):
    project_id = register_project(client, cast)
    verify(client, cast, project_id)
    reply = client.post(f"{V1}/credits/batches", headers=cast.auth("verifier"), json={
        "project_id": project_id, "period_start": 1_704_067_200, "period_end": 1_735_689_599, "vintage": 2024,
        "amount": 10})
    assert reply.status_code == 403


# ------------------------------------------------------------------ transfers and holdings


def test_a_holder_transfers_credits_and_holdings_show_them(client: TestClient, cast: Cast, runtime: Runtime,
                                                           batch: dict):
    reply = transfer(client, cast, "enterprise_a", "trader", 1, 250)
    assert reply.status_code == 200 and reply.json()["status"] == "mined"
    assert credit_balance(runtime, cast, "trader", 1) == 250
    held = client.get(f"{V1}/credits/holdings/{cast.addresses['trader']}", headers=cast.auth("trader")).json()
    assert held["holdings"] == [{"batch_id": 1, "amount": 250, "project_id": batch["project_id"], "vintage": 2024,
                                 "serial_start": 1, "serial_end": 1000}]
    colleague = client.get(f"{V1}/credits/holdings/{cast.addresses['enterprise_a']}",
                           headers=cast.auth("enterprise_a2"))
    assert colleague.status_code == 200 and colleague.json()["holdings"][0]["amount"] == 750


def test_another_members_holdings_are_not_shown(client: TestClient, cast: Cast, batch: dict):
    reply = client.get(f"{V1}/credits/holdings/{cast.addresses['enterprise_a']}", headers=cast.auth("trader"))
    assert reply.status_code == 403 and reply.json()["error"] == "NotYourData"


def test_a_transfer_beyond_the_holding_is_refused_before_signing(client: TestClient, cast: Cast, batch: dict):
    reply = transfer(client, cast, "enterprise_a", "trader", 1, 1001)
    assert reply.status_code == 409
    assert reply.json()["args"] == {"sender": cast.addresses["enterprise_a"], "balance": 1000, "needed": 1001,
                                    "tokenId": 1}
    assert client.get(f"{V1}/transactions", headers=cast.auth("enterprise_a")).json()["items"] == []


@pytest.mark.parametrize("action", ["freeze", "suspend"])
def test_a_sanctioned_holder_cannot_move_credits(client: TestClient, cast: Cast, batch: dict, action: str):
    sanction(client, cast, "enterprise_a", action)
    assert transfer(client, cast, "enterprise_a", "trader", 1, 1).status_code == 403
    assert retire(client, cast, "enterprise_a", 1, 1).status_code == 403


def test_credits_go_only_to_members_that_may_hold(client: TestClient, cast: Cast, batch: dict):
    sanction(client, cast, "trader", "freeze")
    reply = transfer(client, cast, "enterprise_a", "trader", 1, 1)
    assert reply.status_code == 403 and reply.json()["error"] == "AccountCannotTransact"


def test_a_holder_whose_key_the_service_does_not_keep_is_told_to_relay_before_its_receiver_is_judged(
        client: TestClient, cast: Cast, batch: dict):
    transfer(client, cast, "enterprise_a", "self_signer", 1, 5)
    sanction(client, cast, "trader", "freeze")
    reply = transfer(client, cast, "self_signer", "trader", 1, 1)
    assert reply.status_code == 409 and reply.json()["error"] == "NonCustodialMember"
    assert transfer(client, cast, "self_signer", "enterprise_a", 1, 1).status_code == 409


def test_a_transfer_beyond_the_holding_is_refused_with_the_token_s_error_and_moves_nothing(
        client: TestClient, cast: Cast, batch: dict):
    held = transfer(client, cast, "enterprise_a", "trader", 1, 1)
    assert held.status_code == 200
    reply = transfer(client, cast, "trader", "enterprise_a", 1, 2)
    assert reply.status_code == 409 and reply.json()["error"] == "ERC1155InsufficientBalance"
    assert reply.json()["args"]["balance"] == 1


def test_a_verifier_holds_no_credits(client: TestClient, cast: Cast, batch: dict):
    assert transfer(client, cast, "verifier", "trader", 1, 1).status_code == 403


# ------------------------------------------------------------------ retirement


def test_retirement_burns_the_first_serials_and_returns_a_certificate(client: TestClient, cast: Cast,
                                                                      runtime: Runtime, batch: dict):
    reply = retire(client, cast, "enterprise_a", 1, 120)
    assert reply.status_code == 201, reply.text
    cert, tx = reply.json()["certificate"], reply.json()["transaction"]
    assert {k: cert[k] for k in ("retirement_id", "batch_id", "holder", "project_id", "methodology", "location",
                                 "vintage", "amount", "serial_start", "serial_end", "beneficiary", "purpose",
                                 "jurisdiction", "consumption_start", "consumption_end")} == {
        "retirement_id": 1, "batch_id": 1, "holder": cast.addresses["enterprise_a"],
        "project_id": batch["project_id"], "methodology": "CCER-14-001-V01", "location": "CN-GS", "vintage": 2024,
        "amount": 120, "serial_start": 1, "serial_end": 120, **RETIREMENT}
    assert (cert["tx_hash"], cert["block_number"]) == (tx["tx_hash"], tx["block_number"])
    assert cert["chain_id"] == runtime.chain.chain_id
    assert cert["registry"] == runtime.deployment.addresses["CreditRegistry"]
    assert cert["block_time"].endswith(("Z", "+00:00"))
    assert credit_balance(runtime, cast, "enterprise_a", 1) == 880
    second = retire(client, cast, "enterprise_a", 1, 5).json()["certificate"]
    assert (second["retirement_id"], second["serial_start"], second["serial_end"]) == (2, 121, 125)
    same = client.get(f"{V1}/credits/retirements/1", headers=cast.auth("enterprise_a2")).json()
    assert same == cert
    shown = client.get(f"{V1}/credits/batches/1", headers=cast.auth("trader")).json()
    assert (shown["retired"], shown["supply"], shown["next_serial"]) == (125, 875, 126)


def test_the_printable_certificate_states_the_retirement_and_how_to_verify_it(client: TestClient, cast: Cast,
                                                                              runtime: Runtime, batch: dict):
    cert = retire(client, cast, "enterprise_a", 1, 120, beneficiary="Lin & Partners <Shanghai>").json()[
        "certificate"]
    page = client.get(f"{V1}/credits/retirements/1/certificate.html", headers=cast.auth("enterprise_a"))
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    text = page.text
    for expected in ("Lin &amp; Partners &lt;Shanghai&gt;", RETIREMENT["purpose"], "1 to 120", cert["tx_hash"],
                     str(cert["block_number"]), batch["project_id"], "CCER-14-001-V01", "2024",
                     "How to verify this certificate on chain", "retirement(1)",
                     runtime.deployment.addresses["CreditRegistry"], "matches this certificate",
                     "2024-01-01 to 2024-12-31", "UTC"):
        assert expected in text, expected
    assert "<Shanghai>" not in text


def test_a_certificate_is_private_to_the_holders_organisation_and_regulators(client: TestClient, cast: Cast,
                                                                              batch: dict):
    retire(client, cast, "enterprise_a", 1, 1)
    assert client.get(f"{V1}/credits/retirements/1", headers=cast.auth("regulator")).status_code == 200
    for path in ("", "/certificate.html"):
        reply = client.get(f"{V1}/credits/retirements/1{path}", headers=cast.auth("enterprise_b"))
        assert reply.status_code == 403 and reply.json()["error"] == "NotYourData"
    missing = client.get(f"{V1}/credits/retirements/9", headers=cast.auth("regulator"))
    assert missing.status_code == 404 and missing.json()["error"] == "UnknownRetirement"


def test_retiring_more_than_held_or_with_a_backward_period_is_refused(client: TestClient, cast: Cast,
                                                                     batch: dict):
    over = retire(client, cast, "enterprise_a", 1, 1001)
    assert over.status_code == 409 and over.json()["error"] == "ERC1155InsufficientBalance"
    backward = retire(client, cast, "enterprise_a", 1, 1, consumption_start=10, consumption_end=5)
    assert backward.status_code == 422
    assert retire(client, cast, "enterprise_a", 1, 1, beneficiary="").status_code == 422


# ------------------------------------------------------------------ cancellation and surrender


def test_a_regulator_cancels_invalidated_credits(client: TestClient, cast: Cast, runtime: Runtime, batch: dict):
    reply = client.post(f"{V1}/credits/cancellations", headers=cast.auth("regulator"), json={
        "holder": cast.addresses["enterprise_a"], "batch_id": 1, "amount": 40, "reason": "reversal 2025-03"})
    assert reply.status_code == 200 and reply.json()["function"] == "cancelCredits"
    shown = client.get(f"{V1}/credits/batches/1", headers=cast.auth("enterprise_a")).json()
    assert (shown["cancelled"], shown["supply"]) == (40, 960)
    assert credit_balance(runtime, cast, "enterprise_a", 1) == 960


def test_only_a_regulator_cancels(client: TestClient, cast: Cast, batch: dict):
    reply = client.post(f"{V1}/credits/cancellations", headers=cast.auth("enterprise_a"), json={
        "holder": cast.addresses["enterprise_a"], "batch_id": 1, "amount": 1, "reason": "mine"})
    assert reply.status_code == 403


def _obligation(runtime: Runtime, cast: Cast, tonnes: int) -> None:
    regulator = cast.addresses["regulator"]
    records = runtime.outbox.submit([
        Intent("ComplianceLedger", "setObligationSource", (regulator, True), regulator),
        Intent("ComplianceLedger", "openComplianceWindow", (YEAR,), regulator),
        Intent("ComplianceLedger", "setObligation", (ENTERPRISE_A, YEAR, tonnes), regulator)])
    assert all(r.status == "mined" for r in records)


def test_an_enterprise_surrenders_credits_within_the_offset_cap(client: TestClient, cast: Cast, runtime: Runtime,
                                                                batch: dict):
    _obligation(runtime, cast, 1000)
    over = client.post(f"{V1}/credits/surrenders", headers=cast.auth("enterprise_a"),
                       json={"batch_id": 1, "amount": 51, "compliance_year": YEAR})
    assert over.status_code == 409
    body = over.json()
    assert body["error"] == "CreditCapExceeded"
    assert body["args"] == {"orgId": ENTERPRISE_A, "year": YEAR, "requested": 51, "remainingCap": 50}
    assert "only 50 more credits" in body["message"]
    ok = client.post(f"{V1}/credits/surrenders", headers=cast.auth("enterprise_a"),
                     json={"batch_id": 1, "amount": 50, "compliance_year": YEAR})
    assert ok.status_code == 200, ok.text
    status = client.get(f"{V1}/compliance/enterprises/{ENTERPRISE_A}/{YEAR}", headers=cast.auth("enterprise_a"))
    assert status.json()["credits_surrendered"] == 50
    assert client.get(f"{V1}/credits/batches/1", headers=cast.auth("trader")).json()["surrendered"] == 50


def test_only_an_enterprise_surrenders(client: TestClient, cast: Cast, batch: dict):
    transfer(client, cast, "enterprise_a", "trader", 1, 10)
    reply = client.post(f"{V1}/credits/surrenders", headers=cast.auth("trader"),
                        json={"batch_id": 1, "amount": 1, "compliance_year": YEAR})
    assert reply.status_code == 403


# ------------------------------------------------------------------ relayed


def test_a_non_custodial_holder_relays_a_retirement_it_signed(client: TestClient, cast: Cast, runtime: Runtime,
                                                              batch: dict):
    transfer(client, cast, "enterprise_a", "self_signer", 1, 30)
    me = cast.accounts["self_signer"]
    told = retire(client, cast, "self_signer", 1, 1)
    assert told.status_code == 409 and told.json()["error"] == "NonCustodialMember"
    raw = signed_call(runtime, me, "CreditRegistry", "retire", 1, 30, "Eastern Cement", "voluntary", "CN", 0, 0)
    reply = relay(client, cast, "self_signer", raw)
    assert reply.status_code == 200 and reply.json()["status"] == "mined", reply.text
    cert = client.get(f"{V1}/credits/retirements/1", headers=cast.auth("self_signer")).json()
    assert (cert["holder"], cert["amount"], cert["serial_end"]) == (me.address, 30, 30)


def test_relayed_issuance_needs_the_regulator_role(client: TestClient, cast: Cast, runtime: Runtime):
    raw = signed_call(runtime, cast.accounts["self_signer"], "CreditRegistry", "issueBatch", b"\1" * 32, 1, 2,
                      2024, 5, 1)
    reply = relay(client, cast, "self_signer", raw)
    assert reply.status_code == 403 and reply.json()["error"] == "MissingRole"


def test_relayed_credit_transfers_move_only_the_signers_own_credits(client: TestClient, cast: Cast,
                                                                    runtime: Runtime):
    me = cast.accounts["self_signer"]
    raw = signed_call(runtime, me, "CreditRegistry", "safeTransferFrom", cast.addresses["enterprise_a"],
                      me.address, 1, 1, b"")
    reply = relay(client, cast, "self_signer", raw)
    assert reply.status_code == 403 and reply.json()["error"] == "NotYourAssets"
