"""Allowances through the API: allocation, balances, transfers (single and batch), surrender, compliance."""

from __future__ import annotations

from typing import Any

import pytest
from eth_utils import function_signature_to_4byte_selector, keccak
from fastapi.testclient import TestClient

from ledger_core.chain.outbox import Intent
from ledger_service.runtime import Runtime
from tests.service.cast import ENTERPRISE_A, ENTERPRISE_B, ENTERPRISE_C, OTHER_PARK, PARK, YEAR, Cast
from tests.service.helpers import V1, allocate, balance, sanction, submit, transfer


@pytest.fixture
def allocated(client: TestClient, cast: Cast) -> None:
    allocate(client, cast, {"enterprise_a": 800, "enterprise_a2": 200, "enterprise_b": 600})


def set_obligations(runtime: Runtime, cast: Cast, tonnes: dict[int, int], year: int = YEAR) -> None:
    regulator = cast.addresses["regulator"]
    intents = [Intent("ComplianceLedger", "setObligationSource", (regulator, True), regulator),
               Intent("ComplianceLedger", "openComplianceWindow", (year,), regulator)]
    intents += [Intent("ComplianceLedger", "setObligation", (org, year, t), regulator) for org, t in tonnes.items()]
    assert all(r.status == "mined" for r in runtime.outbox.submit(intents))


def test_the_regulator_allocates_to_many_enterprises_in_one_transaction(client: TestClient, cast: Cast):
    tx = allocate(client, cast, {"enterprise_a": 800, "enterprise_b": 600})
    assert (tx["contract"], tx["function"], tx["status"]) == ("AllowanceRegistry", "allocate", "mined")
    assert balance(client, cast, "enterprise_a") == 800
    assert balance(client, cast, "enterprise_b") == 600


def test_allocating_to_a_trader_is_refused_by_role(client: TestClient, cast: Cast):
    reply = client.post(f"{V1}/allowances/allocations", headers=cast.auth("regulator"),
                        json={"year": YEAR, "allocations": [{"holder": cast.addresses["trader"], "amount": 5}]})
    assert reply.status_code == 403
    assert reply.json()["error"] == "MissingRole"
    assert reply.json()["args"]["role"].startswith("0x")
    assert "ENTERPRISE" in reply.json()["message"]


@pytest.mark.parametrize("amount", [0, -3, "12.5", 1.5])
def test_amounts_are_positive_whole_tonnes(client: TestClient, cast: Cast, amount: object):
    reply = client.post(f"{V1}/allowances/allocations", headers=cast.auth("regulator"),
                        json={"year": YEAR, "allocations": [{"holder": cast.addresses["enterprise_a"],
                                                              "amount": amount}]})
    assert reply.status_code == 422


def test_only_a_regulator_allocates(client: TestClient, cast: Cast):
    reply = client.post(f"{V1}/allowances/allocations", headers=cast.auth("enterprise_a"),
                        json={"year": YEAR, "allocations": [{"holder": cast.addresses["enterprise_a"], "amount": 1}]})
    assert reply.status_code == 403


def test_balances_of_several_vintages(client: TestClient, cast: Cast, allocated: None):
    allocate(client, cast, {"enterprise_a": 40}, year=YEAR + 1)
    reply = client.get(f"{V1}/allowances/balances/{cast.addresses['enterprise_a']}",
                       params={"years": [YEAR, YEAR + 1, YEAR + 2]}, headers=cast.auth("enterprise_a"))
    assert reply.json()["balances"] == {str(YEAR): 800, str(YEAR + 1): 40, str(YEAR + 2): 0}


def test_a_colleague_of_the_same_organisation_sees_the_balance(client: TestClient, cast: Cast, allocated: None):
    reply = client.get(f"{V1}/allowances/balances/{cast.addresses['enterprise_a']}", params={"years": [YEAR]},
                       headers=cast.auth("enterprise_a2"))
    assert reply.status_code == 200


def test_another_members_balance_is_not_shown(client: TestClient, cast: Cast, allocated: None):
    reply = client.get(f"{V1}/allowances/balances/{cast.addresses['enterprise_a']}", params={"years": [YEAR]},
                       headers=cast.auth("enterprise_b"))
    assert reply.status_code == 403
    assert reply.json()["error"] == "NotYourData"


def test_a_transfer_moves_allowances_and_reports_the_mined_transaction(client: TestClient, cast: Cast,
                                                                       allocated: None):
    reply = transfer(client, cast, "enterprise_a", "trader", 300)
    assert reply.status_code == 200, reply.text
    tx = reply.json()
    assert tx["status"] == "mined" and tx["block_number"] > 0 and tx["gas_used"] > 0
    assert tx["tx_hash"].startswith("0x") and tx["nonce"] == 0
    assert (balance(client, cast, "enterprise_a"), balance(client, cast, "trader")) == (500, 300)


def test_a_transfer_beyond_the_balance_is_refused_before_anything_is_signed(client: TestClient, cast: Cast,
                                                                            allocated: None):
    reply = transfer(client, cast, "enterprise_a", "trader", 801)
    assert reply.status_code == 409
    body = reply.json()
    assert body["error"] == "ERC1155InsufficientBalance"
    assert body["args"] == {"sender": cast.addresses["enterprise_a"], "balance": 800, "needed": 801, "tokenId": YEAR}
    follow = client.get(f"{V1}/transactions", headers=cast.auth("enterprise_a")).json()
    assert follow["items"] == []


def test_a_transfer_is_run_as_a_call_once_before_it_is_sent(client: TestClient, cast: Cast, runtime: Runtime,
                                                             allocated: None, monkeypatch: pytest.MonkeyPatch):
    calls: list[bytes] = []
    call = runtime.chain.call

    def counted(tx: dict[str, Any], block: int | str = "latest") -> bytes:
        calls.append(bytes(tx["data"]))
        return call(tx, block)

    balance(client, cast, "enterprise_a")  # the member views are cached before counting
    monkeypatch.setattr(runtime.chain, "call", counted)
    reply = transfer(client, cast, "enterprise_a", "trader", 3)
    assert reply.status_code == 200, reply.text
    transfer_selector = function_signature_to_4byte_selector("safeTransferFrom(address,address,uint256,uint256,bytes)")
    balance_selector = function_signature_to_4byte_selector("balanceOfBatch(address[],uint256[])")
    assert [c[:4] for c in calls].count(transfer_selector) == 1  # the one preflight
    assert balance_selector not in [c[:4] for c in calls]  # the preflight's success says the balance is there


def test_a_refused_transfer_is_answered_as_the_balance_check_answers(client: TestClient, cast: Cast,
                                                                     runtime: Runtime, allocated: None,
                                                                     monkeypatch: pytest.MonkeyPatch):
    checked = transfer(client, cast, "enterprise_a", "trader", 801)
    monkeypatch.setattr(runtime.settings, "preflight", "none")  # the use case's own check alone, no simulation
    unchecked = transfer(client, cast, "enterprise_a", "trader", 801)
    assert (checked.status_code, checked.json()) == (unchecked.status_code, unchecked.json())


@pytest.mark.parametrize("action", ["suspend", "freeze", "revoke"])
def test_a_sanctioned_sender_cannot_transfer(client: TestClient, cast: Cast, allocated: None, action: str):
    sanction(client, cast, "enterprise_a", action)
    reply = transfer(client, cast, "enterprise_a", "trader", 1)
    assert reply.status_code == 403
    assert reply.json()["error"] in {"MemberNotActive", "AccountFrozen"}


@pytest.mark.parametrize("action", ["suspend", "freeze", "revoke"])
def test_a_sanctioned_receiver_cannot_receive(client: TestClient, cast: Cast, allocated: None, action: str):
    sanction(client, cast, "trader", action)
    reply = transfer(client, cast, "enterprise_a", "trader", 1)
    assert reply.status_code == 403
    assert reply.json()["error"] == "AccountCannotTransact"


def test_a_member_frozen_outside_the_service_is_refused_once_the_index_sees_it(
        client: TestClient, cast: Cast, runtime: Runtime, allocated: None, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(runtime.directory, "ttl", 3600.0)  # the views would be reused all along
    assert transfer(client, cast, "enterprise_a", "trader", 1).status_code == 200
    regulator = cast.addresses["regulator"]
    submit(runtime, Intent("Membership", "freeze", (cast.addresses["enterprise_a"], keccak(text="outside")),
                           regulator))  # straight to the chain: the service's use cases never hear of it
    runtime.indexing.index_up_to_date()
    refused = transfer(client, cast, "enterprise_a", "trader", 1)
    assert (refused.status_code, refused.json()["error"]) == (403, "AccountFrozen")


def test_a_verifier_cannot_transfer(client: TestClient, cast: Cast):
    reply = transfer(client, cast, "verifier", "trader", 1)
    assert reply.status_code == 403


def test_a_non_custodial_member_is_told_to_sign_and_relay(client: TestClient, cast: Cast):
    reply = transfer(client, cast, "self_signer", "trader", 1)
    assert reply.status_code == 409
    assert reply.json()["error"] == "NonCustodialMember"


def test_without_waiting_a_transfer_is_accepted_and_followed_by_its_outbox_id(client: TestClient, cast: Cast,
                                                                              allocated: None):
    reply = client.post(f"{V1}/allowances/transfers", params={"wait": False}, headers=cast.auth("enterprise_a"),
                        json={"to": cast.addresses["trader"], "year": YEAR, "amount": 5})
    assert reply.status_code == 202
    assert reply.json()["status"] == "sent"
    followed = client.get(f"{V1}/transactions/{reply.json()['id']}", headers=cast.auth("enterprise_a")).json()
    assert followed["status"] == "mined"


def test_a_batch_of_transfers_is_sent_as_one_transaction_each(client: TestClient, cast: Cast, allocated: None):
    transfers = [{"to": cast.addresses[n], "year": YEAR, "amount": a}
                 for n, a in (("trader", 10), ("enterprise_b", 20), ("trader", 30))]
    reply = client.post(f"{V1}/allowances/transfers/batch", headers=cast.auth("enterprise_a"),
                        json={"transfers": transfers})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert (body["mined"], body["failed"], body["pending"]) == (3, 0, 0)
    assert [t["nonce"] for t in body["transactions"]] == [0, 1, 2]
    assert (balance(client, cast, "enterprise_a"), balance(client, cast, "trader"),
            balance(client, cast, "enterprise_b")) == (740, 40, 620)


def test_a_batch_beyond_the_balance_is_refused_as_a_whole(client: TestClient, cast: Cast, allocated: None):
    transfers = [{"to": cast.addresses["trader"], "year": YEAR, "amount": 500}] * 2
    reply = client.post(f"{V1}/allowances/transfers/batch", headers=cast.auth("enterprise_a"),
                        json={"transfers": transfers})
    assert reply.status_code == 409
    assert reply.json()["args"]["needed"] == 1000
    assert balance(client, cast, "enterprise_a") == 800


def test_an_empty_batch_is_invalid(client: TestClient, cast: Cast):
    reply = client.post(f"{V1}/allowances/transfers/batch", headers=cast.auth("enterprise_a"), json={"transfers": []})
    assert reply.status_code == 422


def test_a_frozen_member_cannot_send_a_batch(client: TestClient, cast: Cast, allocated: None):
    sanction(client, cast, "enterprise_a", "freeze")
    reply = client.post(f"{V1}/allowances/transfers/batch", headers=cast.auth("enterprise_a"),
                        json={"transfers": [{"to": cast.addresses["trader"], "year": YEAR, "amount": 1}]})
    assert reply.status_code == 403
    assert reply.json()["error"] == "AccountFrozen"


def test_surrender_counts_towards_the_obligation(client: TestClient, cast: Cast, runtime: Runtime, allocated: None):
    set_obligations(runtime, cast, {ENTERPRISE_A: 500})
    reply = client.post(f"{V1}/allowances/surrenders", headers=cast.auth("enterprise_a"),
                        json={"compliance_year": YEAR, "vintages": [{"year": YEAR, "amount": 450}]})
    assert reply.status_code == 200, reply.text
    status = client.get(f"{V1}/compliance/enterprises/{ENTERPRISE_A}/{YEAR}", headers=cast.auth("enterprise_a")).json()
    assert status == {"org_id": ENTERPRISE_A, "year": YEAR, "obligation": 500, "allowances_surrendered": 450,
                      "credits_surrendered": 0, "shortfall": 50, "finalized": True}


def test_surrendering_without_a_finalized_obligation_is_a_conflict(client: TestClient, cast: Cast, allocated: None):
    reply = client.post(f"{V1}/allowances/surrenders", headers=cast.auth("enterprise_a"),
                        json={"compliance_year": YEAR, "vintages": [{"year": YEAR, "amount": 1}]})
    assert reply.status_code == 409
    assert reply.json()["error"] in {"ComplianceWindowNotOpen", "ObligationNotFinalized"}


def test_surrendering_a_later_vintage_is_a_validation_error(client: TestClient, cast: Cast, runtime: Runtime):
    allocate(client, cast, {"enterprise_a": 10}, year=YEAR + 1)
    set_obligations(runtime, cast, {ENTERPRISE_A: 500})
    reply = client.post(f"{V1}/allowances/surrenders", headers=cast.auth("enterprise_a"),
                        json={"compliance_year": YEAR, "vintages": [{"year": YEAR + 1, "amount": 1}]})
    assert reply.status_code == 422
    assert reply.json()["error"] == "VintageAfterComplianceYear"


def test_a_trader_cannot_surrender(client: TestClient, cast: Cast):
    reply = client.post(f"{V1}/allowances/surrenders", headers=cast.auth("trader"),
                        json={"compliance_year": YEAR, "vintages": [{"year": YEAR, "amount": 1}]})
    assert reply.status_code == 403


def test_a_parks_status_sums_its_enterprises(client: TestClient, cast: Cast, runtime: Runtime, allocated: None):
    set_obligations(runtime, cast, {ENTERPRISE_A: 500, ENTERPRISE_B: 700, ENTERPRISE_C: 50})
    client.post(f"{V1}/allowances/surrenders", headers=cast.auth("enterprise_b"),
                json={"compliance_year": YEAR, "vintages": [{"year": YEAR, "amount": 600}]})
    body = client.get(f"{V1}/compliance/parks/{PARK}/{YEAR}", headers=cast.auth("regulator")).json()
    assert body["park"] == {"org_id": PARK, "year": YEAR, "obligation": 1200, "allowances_surrendered": 600,
                            "credits_surrendered": 0, "shortfall": 600, "finalized": True}
    assert [e["org_id"] for e in body["enterprises"]] == [ENTERPRISE_A, ENTERPRISE_B]


def test_an_enterprise_of_the_park_sees_the_park_but_not_another_park(client: TestClient, cast: Cast):
    assert client.get(f"{V1}/compliance/parks/{PARK}/{YEAR}", headers=cast.auth("enterprise_a")).status_code == 200
    reply = client.get(f"{V1}/compliance/parks/{OTHER_PARK}/{YEAR}", headers=cast.auth("enterprise_a"))
    assert reply.status_code == 403


def test_an_enterprise_does_not_see_another_enterprises_status(client: TestClient, cast: Cast):
    reply = client.get(f"{V1}/compliance/enterprises/{ENTERPRISE_A}/{YEAR}", headers=cast.auth("enterprise_b"))
    assert reply.status_code == 403


def test_compliance_of_a_non_enterprise_is_not_found(client: TestClient, cast: Cast):
    assert client.get(f"{V1}/compliance/enterprises/{PARK}/{YEAR}", headers=cast.auth("regulator")).status_code == 404
    assert client.get(f"{V1}/compliance/parks/{ENTERPRISE_A}/{YEAR}", headers=cast.auth("regulator")).status_code == 404


# ------------------------------------------------------------------ compliance windows


def test_a_regulator_opens_and_closes_a_compliance_window(client: TestClient, cast: Cast, runtime: Runtime):
    assert client.get(f"{V1}/compliance/windows/{YEAR}", headers=cast.auth("enterprise_a")).json() == {
        "year": YEAR, "open": False}
    opened = client.post(f"{V1}/compliance/windows/{YEAR}/open", headers=cast.auth("regulator"))
    assert opened.status_code == 200, opened.text
    assert opened.json()["window"] == {"year": YEAR, "open": True}
    tx = opened.json()["transaction"]
    assert (tx["contract"], tx["function"], tx["status"]) == ("ComplianceLedger", "openComplianceWindow", "mined")
    assert runtime.suite.call("ComplianceLedger", "complianceWindowOpen", YEAR) is True
    assert client.get(f"{V1}/compliance/windows/{YEAR}", headers=cast.auth("trader")).json()["open"] is True
    assert client.get(f"{V1}/compliance/windows/{YEAR + 1}", headers=cast.auth("trader")).json()["open"] is False
    closed = client.post(f"{V1}/compliance/windows/{YEAR}/close", headers=cast.auth("regulator2"))
    assert closed.status_code == 200, closed.text
    assert closed.json()["window"] == {"year": YEAR, "open": False}
    assert closed.json()["transaction"]["function"] == "closeComplianceWindow"


def test_surrenders_follow_the_window(client: TestClient, cast: Cast, runtime: Runtime, allocated: None):
    regulator = cast.addresses["regulator"]
    assert all(r.status == "mined" for r in runtime.outbox.submit([
        Intent("ComplianceLedger", "setObligationSource", (regulator, True), regulator),
        Intent("ComplianceLedger", "setObligation", (ENTERPRISE_A, YEAR, 100), regulator)]))
    body = {"compliance_year": YEAR, "vintages": [{"year": YEAR, "amount": 10}]}
    early = client.post(f"{V1}/allowances/surrenders", headers=cast.auth("enterprise_a"), json=body)
    assert early.status_code == 409 and early.json()["error"] == "ComplianceWindowNotOpen"
    client.post(f"{V1}/compliance/windows/{YEAR}/open", headers=cast.auth("regulator"))
    assert client.post(f"{V1}/allowances/surrenders", headers=cast.auth("enterprise_a"), json=body).status_code == 200
    client.post(f"{V1}/compliance/windows/{YEAR}/close", headers=cast.auth("regulator"))
    late = client.post(f"{V1}/allowances/surrenders", headers=cast.auth("enterprise_a"), json=body)
    assert late.status_code == 409 and late.json()["error"] == "ComplianceWindowNotOpen"


def test_compliance_window_refusals(client: TestClient, cast: Cast):
    for name in ("enterprise_a", "verifier", "trader"):
        reply = client.post(f"{V1}/compliance/windows/{YEAR}/open", headers=cast.auth(name))
        assert reply.status_code == 403 and reply.json()["error"] == "MissingRole", name
    assert client.post(f"{V1}/compliance/windows/{YEAR}/open").status_code == 401
    assert client.get(f"{V1}/compliance/windows/{YEAR}").status_code == 401
    assert client.get(f"{V1}/compliance/windows/{YEAR}", headers=cast.auth("stranger")).json()["error"] == (
        "MemberNotActive")
    not_open = client.post(f"{V1}/compliance/windows/{YEAR}/close", headers=cast.auth("regulator"))
    assert not_open.status_code == 409 and not_open.json()["error"] == "ComplianceWindowNotOpen"
    assert client.post(f"{V1}/compliance/windows/{YEAR}/open", headers=cast.auth("regulator")).status_code == 200
    twice = client.post(f"{V1}/compliance/windows/{YEAR}/open", headers=cast.auth("regulator"))
    assert twice.status_code == 409 and twice.json()["error"] == "ComplianceWindowAlreadyOpen"
    assert twice.json()["args"] == {"year": YEAR}
    for year in (0, 65536):
        assert client.post(f"{V1}/compliance/windows/{year}/open", headers=cast.auth("regulator")).status_code == 422
    sanction(client, cast, "regulator2", "suspend")
    reply = client.post(f"{V1}/compliance/windows/{YEAR}/close", headers=cast.auth("regulator2"))
    assert reply.status_code == 403 and reply.json()["error"] == "MemberNotActive"
