"""Transactions: following outbox entries, relaying client-signed transactions; probes and metrics."""

from __future__ import annotations

from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient
from web3 import Web3

from ledger_core.chain.client import ChainUnavailable
from ledger_service.runtime import Runtime
from tests.service.cast import YEAR, Cast
from tests.service.helpers import V1, allocate, balance, sanction, transfer


def signed_call(runtime: Runtime, account: LocalAccount, contract: str, function: str, *args: Any,
                nonce: int | None = None, to: str | None = None, chain_id: int | None = None) -> str:
    data = runtime.encoder.encode(contract, function, args)
    tx = {"to": to or runtime.deployment.addresses[contract], "data": data, "value": 0, "gas": 500_000,
          "chainId": chain_id or runtime.chain.chain_id, **runtime.chain.fees.fields,
          "nonce": runtime.chain.pending_nonce(account.address) if nonce is None else nonce}
    return "0x" + bytes(account.sign_transaction(tx).raw_transaction).hex()


@pytest.fixture
def self_signer_holds(client: TestClient, cast: Cast) -> None:
    allocate(client, cast, {"self_signer": 100})


def relay(client: TestClient, cast: Cast, name: str, raw: str):
    return client.post(f"{V1}/transactions/relay", headers=cast.auth(name), json={"raw_tx": raw})


def test_a_member_relays_a_transfer_it_signed_itself(client: TestClient, cast: Cast, runtime: Runtime,
                                                     self_signer_holds: None):
    me = cast.accounts["self_signer"]
    raw = signed_call(runtime, me, "AllowanceRegistry", "safeTransferFrom", me.address, cast.addresses["trader"],
                      YEAR, 40, b"")
    reply = relay(client, cast, "self_signer", raw)
    assert reply.status_code == 200, reply.text
    assert (reply.json()["status"], reply.json()["function"]) == ("mined", "safeTransferFrom")
    assert balance(client, cast, "trader") == 40
    followed = client.get(f"{V1}/transactions/{reply.json()['id']}", headers=cast.auth("self_signer")).json()
    assert followed["origin"] == "relayed"
    again = relay(client, cast, "self_signer", raw)
    assert again.json()["id"] == reply.json()["id"]
    assert balance(client, cast, "trader") == 40


def test_a_wallet_signs_for_the_relay_from_what_the_api_tells_it(client: TestClient, cast: Cast,
                                                                  self_signer_holds: None):
    """Chain id, fees, next nonce, address and ABI from the API alone: nothing read from the service's insides."""
    me = cast.accounts["self_signer"]
    info = client.get(f"{V1}/transactions/signing", headers=cast.auth("self_signer")).json()
    abi = client.get(f"{V1}/transactions/abi/AllowanceRegistry", headers=cast.auth("self_signer")).json()
    registry = Web3().eth.contract(address=info["contracts"]["AllowanceRegistry"]["address"], abi=abi)
    data = registry.encode_abi("safeTransferFrom", [me.address, cast.addresses["trader"], YEAR, 4, b""])
    tx = {"to": registry.address, "data": data, "value": 0, "gas": 300_000, "chainId": info["chain_id"],
          "nonce": info["next_nonce"], **info["fees"]}
    reply = relay(client, cast, "self_signer", "0x" + bytes(me.sign_transaction(tx).raw_transaction).hex())
    assert (reply.status_code, reply.json()["status"]) == (200, "mined")
    again = client.get(f"{V1}/transactions/signing", headers=cast.auth("self_signer")).json()
    assert again["next_nonce"] == info["next_nonce"] + 1
    assert info["account"] == me.address and info["free_gas"] is False  # the embedded chain charges gas


def test_the_next_nonce_counts_relayed_transactions_still_in_flight(client: TestClient, cast: Cast, runtime: Runtime,
                                                                    self_signer_holds: None,
                                                                    monkeypatch: pytest.MonkeyPatch):
    me = cast.accounts["self_signer"]
    first = runtime.chain.pending_nonce(me.address)
    reply = client.post(f"{V1}/transactions/relay", params={"wait": False}, headers=cast.auth("self_signer"), json={
        "raw_tx": signed_call(runtime, me, "AllowanceRegistry", "safeTransferFrom", me.address,
                              cast.addresses["trader"], YEAR, 1, b"")})
    assert reply.status_code == 202
    # A node that has not seen it yet: the outbox's row still holds the nonce.
    monkeypatch.setattr(runtime.chain, "nonces", lambda accounts, block: [first for _ in accounts])
    info = client.get(f"{V1}/transactions/signing", headers=cast.auth("self_signer")).json()
    assert info["next_nonce"] == first + 1


def test_only_the_suites_abis_are_served(client: TestClient, cast: Cast):
    reply = client.get(f"{V1}/transactions/abi/NotAContract", headers=cast.auth("self_signer"))
    assert (reply.status_code, reply.json()["error"]) == (404, "UnknownContract")
    assert client.get(f"{V1}/transactions/abi/Membership").status_code == 401


def test_a_relayed_transaction_must_be_signed_by_the_caller(client: TestClient, cast: Cast, runtime: Runtime):
    other = cast.accounts["stranger"]
    raw = signed_call(runtime, other, "Notary", "notarize", b"\1" * 32, b"\0" * 32, b"\0" * 32)
    reply = relay(client, cast, "self_signer", raw)
    assert reply.status_code == 403
    assert reply.json()["error"] == "SignerMismatch"


def test_only_contracts_of_the_suite_are_relayed(client: TestClient, cast: Cast, runtime: Runtime):
    raw = signed_call(runtime, cast.accounts["self_signer"], "Notary", "notarize", b"\1" * 32, b"\0" * 32, b"\0" * 32,
                      to="0x" + "42" * 20)
    assert relay(client, cast, "self_signer", raw).json()["error"] == "NotSuiteContract"


def test_a_function_needing_another_role_is_not_relayed(client: TestClient, cast: Cast, runtime: Runtime):
    me = cast.accounts["self_signer"]
    raw = signed_call(runtime, me, "AllowanceRegistry", "allocate", YEAR, [me.address], [10**6])
    reply = relay(client, cast, "self_signer", raw)
    assert reply.status_code == 403
    assert reply.json()["error"] == "MissingRole"


def test_moving_someone_elses_assets_is_not_relayed(client: TestClient, cast: Cast, runtime: Runtime):
    me = cast.accounts["self_signer"]
    raw = signed_call(runtime, me, "AllowanceRegistry", "safeTransferFrom", cast.addresses["enterprise_a"],
                      me.address, YEAR, 1, b"")
    assert relay(client, cast, "self_signer", raw).json()["error"] == "NotYourAssets"


def test_a_frozen_member_cannot_relay_a_transfer(client: TestClient, cast: Cast, runtime: Runtime,
                                                 self_signer_holds: None):
    sanction(client, cast, "self_signer", "freeze")
    me = cast.accounts["self_signer"]
    raw = signed_call(runtime, me, "AllowanceRegistry", "safeTransferFrom", me.address, cast.addresses["trader"],
                      YEAR, 1, b"")
    assert relay(client, cast, "self_signer", raw).json()["error"] == "AccountFrozen"


def test_a_transaction_for_another_chain_is_refused(client: TestClient, cast: Cast, runtime: Runtime):
    raw = signed_call(runtime, cast.accounts["self_signer"], "Notary", "notarize", b"\1" * 32, b"\0" * 32,
                      b"\0" * 32, chain_id=1)
    assert relay(client, cast, "self_signer", raw).json()["error"] == "WrongChain"


def test_garbage_is_not_a_transaction(client: TestClient, cast: Cast):
    reply = relay(client, cast, "self_signer", "0xdeadbeef")
    assert reply.status_code == 422
    assert reply.json()["error"] == "MalformedTransaction"


def test_transactions_are_visible_to_their_requester_and_regulators_only(client: TestClient, cast: Cast):
    allocate(client, cast, {"enterprise_a": 10})
    tx = transfer(client, cast, "enterprise_a", "trader", 1).json()
    assert client.get(f"{V1}/transactions/{tx['id']}", headers=cast.auth("enterprise_a")).status_code == 200
    assert client.get(f"{V1}/transactions/{tx['id']}", headers=cast.auth("regulator")).status_code == 200
    reply = client.get(f"{V1}/transactions/{tx['id']}", headers=cast.auth("trader"))
    assert reply.status_code == 403
    assert client.get(f"{V1}/transactions/999999", headers=cast.auth("regulator")).status_code == 404


def test_a_members_transactions_are_listed_newest_first_and_filtered_by_status(client: TestClient, cast: Cast):
    allocate(client, cast, {"enterprise_a": 10})
    ids = [transfer(client, cast, "enterprise_a", "trader", 1).json()["id"] for _ in range(3)]
    page = client.get(f"{V1}/transactions", params={"limit": 2, "status": "mined"},
                      headers=cast.auth("enterprise_a")).json()
    assert [t["id"] for t in page["items"]] == ids[::-1][:2]
    assert page["page"]["total"] == 3
    assert client.get(f"{V1}/transactions", params={"status": "lost"}, headers=cast.auth("trader")).status_code == 422


def test_liveness_readiness_and_metrics(client: TestClient, cast: Cast):
    assert client.get("/health").json() == {"status": "ok"}
    ready = client.get("/ready").json()
    assert ready["status"] == "ready" and ready["chain_head"] > 0 and ready["database"] is True
    dependencies = ready["dependencies"]
    assert set(dependencies) == {"chain", "database", "index", "outbox"}
    assert all(d["ok"] for d in dependencies.values())
    assert dependencies["chain"] == {"ok": True, "head": ready["chain_head"], "mode": "embedded"}
    assert dependencies["index"] == ready["index"]
    client.get(f"{V1}/organisations/10", headers=cast.auth("trader"))
    text = client.get("/metrics").text
    assert 'carbonledger_http_requests_total{method="GET",route="/api/v1/organisations/{org_id}",status="200"}' in text
    assert 'carbonledger_outbox_transactions{status="mined"}' in text
    assert "carbonledger_chain_head_block " in text


def test_ready_names_the_chain_when_it_does_not_answer(client: TestClient, runtime: Runtime,
                                                      monkeypatch: pytest.MonkeyPatch):
    def unreachable() -> int:
        raise ChainUnavailable("chain not reachable: connection refused")

    monkeypatch.setattr(runtime.chain, "block_number", unreachable)
    ready = client.get("/ready")
    assert ready.status_code == 503 and ready.json()["status"] == "not ready"
    dependencies = ready.json()["dependencies"]
    assert dependencies["chain"] == {"ok": False, "head": None, "mode": "embedded"}
    assert dependencies["database"] == {"ok": True}
    # Without a head the index lag is unknown; the outbox's gaps are not looked for, its age is.
    assert not dependencies["index"]["ok"] and dependencies["index"]["lag_blocks"] is None
    assert dependencies["outbox"]["ok"] and dependencies["outbox"]["stalled_signers"] is None
    assert dependencies["outbox"]["error"] == "chain not reachable"


def test_ready_names_the_database_when_it_does_not_answer(client: TestClient, runtime: Runtime,
                                                         monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(runtime.health, "database_ok", lambda: False)
    ready = client.get("/ready")
    assert ready.status_code == 503
    dependencies = ready.json()["dependencies"]
    assert dependencies["chain"]["ok"] and dependencies["database"] == {"ok": False}
    assert not dependencies["index"]["ok"] and not dependencies["outbox"]["ok"]
    assert dependencies["outbox"]["error"] == "database not reachable"


def test_the_api_is_described_by_openapi_under_v1(client: TestClient):
    paths = client.get("/openapi.json").json()["paths"]
    assert "/api/v1/allowances/transfers/batch" in paths
    # Outside the API: health, and the embedded chain's node interface (where a node would answer).
    assert all(p.startswith("/api/v1/") for p in paths if p not in ("/health", "/ready", "/metrics", "/rpc"))
