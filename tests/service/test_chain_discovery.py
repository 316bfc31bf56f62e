"""Discovery (`GET /api/v1/chain`): the chain, the suite's addresses and ABI hashes from the deployment record,
the confirmation depths, the fee mode, the node and the signed requests' domain, to anyone."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from ledger_core.chain.abi_export import client_kit
from ledger_core.chain.deploy import SUITE
from ledger_service.runtime import Runtime
from tests.service.helpers import V1


def test_discovery_needs_no_credentials(client: TestClient):
    reply = client.get(f"{V1}/chain")
    assert reply.status_code == 200


def test_discovery_gives_the_deployment_record(client: TestClient, runtime: Runtime):
    found = client.get(f"{V1}/chain").json()
    deployment = runtime.deployment
    assert (found["chain_id"], found["network"], found["deployment_block"]) == (
        runtime.chain.chain_id, deployment.network, deployment.block)
    assert list(found["contracts"]) == [spec.name for spec in SUITE]
    for name, contract in found["contracts"].items():
        assert contract["address"] == deployment.addresses[name]
        assert contract["abi_hash"] == deployment.abi_hashes[name]
        assert contract["version"] == 1


def test_the_deployed_abis_are_the_published_kit(client: TestClient, runtime: Runtime):
    published = json.loads(client_kit(runtime.artifacts)["abi/abi-hashes.json"])
    hashes = {name: c["abi_hash"] for name, c in client.get(f"{V1}/chain").json()["contracts"].items()}
    assert hashes == published


def test_discovery_states_finality_fees_and_node(client: TestClient, runtime: Runtime):
    found = client.get(f"{V1}/chain").json()
    assert found["confirmations"] == runtime.outbox.confirmations == 0  # the embedded chain's blocks are final
    assert found["index_confirmations"] == runtime.indexing.indexer.confirmations
    assert found["free_gas"] is False  # the embedded chain charges gas
    assert found["node"] == {"mode": "embedded", "kind": "embedded", "client_version": None}


def test_discovery_gives_the_signed_requests_domain(client: TestClient, runtime: Runtime):
    signed = client.get(f"{V1}/chain").json()["signed_requests"]
    assert signed["schemes"] == ["eip191", "eip712"]
    assert signed["window_seconds"] == runtime.settings.signed_request_window_seconds
    assert signed["eip712_domain"] == {"name": "CarbonLedger", "version": "1", "chainId": runtime.chain.chain_id,
                                       "verifyingContract": runtime.deployment.addresses["Membership"]}
    assert signed["eip712_primary_type"] == "Request"
    assert [(f["name"], f["type"]) for f in signed["eip712_types"]["Request"]] == [
        ("method", "string"), ("path", "string"), ("bodyHash", "bytes32"), ("timestamp", "uint256"),
        ("nonce", "string")]

