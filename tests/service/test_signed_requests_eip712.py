"""Signed requests in the EIP-712 form: typed data a wallet can show field by field, under the same replay and
clock rules as the EIP-191 form; the client names the form in `X-CL-Signature-Scheme`."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient
from web3 import Web3

from ledger_core.paths import REPO_ROOT
from ledger_service.identity.signed_requests import REQUEST_TYPES, RequestDomain, sign_request, sign_typed_request
from ledger_service.runtime import Runtime
from tests.service.cast import PARK, YEAR, Cast
from tests.service.helpers import V1, allocate, balance

ORG_PATH = f"{V1}/organisations/{PARK}"
TRANSFERS = f"{V1}/allowances/transfers"


def domain_of(client: TestClient) -> RequestDomain:
    """The domain as a client learns it: from the discovery endpoint, without credentials."""
    found = client.get(f"{V1}/chain").json()["signed_requests"]["eip712_domain"]
    return RequestDomain(found["chainId"], found["verifyingContract"])


def typed(client: TestClient, account: LocalAccount, method: str, path: str, body: bytes = b"",
          nonce: str | None = None, timestamp: int | None = None) -> dict[str, str]:
    return sign_typed_request(account, domain_of(client), method, path, body, timestamp or int(time.time()),
                              nonce or uuid.uuid4().hex).as_dict()


def test_a_member_signs_a_request_as_typed_data(client: TestClient, cast: Cast):
    headers = typed(client, cast.accounts["self_signer"], "GET", ORG_PATH)
    assert headers["X-CL-Signature-Scheme"] == "eip712"
    assert client.get(ORG_PATH, headers=headers).status_code == 200


def test_a_wallet_signs_exactly_the_published_layout(client: TestClient, cast: Cast):
    """Domain, types and primary type as GET /chain publishes them, signed as eth_signTypedData_v4 would."""
    published = client.get(f"{V1}/chain").json()["signed_requests"]
    me, timestamp, nonce = cast.accounts["self_signer"], int(time.time()), uuid.uuid4().hex
    typed_data: dict[str, Any] = {
        "domain": published["eip712_domain"], "primaryType": published["eip712_primary_type"],
        "types": {"EIP712Domain": [{"name": "name", "type": "string"}, {"name": "version", "type": "string"},
                                   {"name": "chainId", "type": "uint256"},
                                   {"name": "verifyingContract", "type": "address"}],
                  **published["eip712_types"]},
        "message": {"method": "GET", "path": ORG_PATH, "timestamp": timestamp, "nonce": nonce,
                    "bodyHash": "0xe3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},  # SHA-256("")
    }
    signature = me.sign_message(encode_typed_data(full_message=typed_data)).signature
    headers = {"X-CL-Address": me.address, "X-CL-Timestamp": str(timestamp), "X-CL-Nonce": nonce,
               "X-CL-Signature": "0x" + bytes(signature).hex(), "X-CL-Signature-Scheme": "EIP712"}
    assert client.get(ORG_PATH, headers=headers).status_code == 200


def test_a_typed_request_covers_the_body(client: TestClient, cast: Cast):
    allocate(client, cast, {"enterprise_a": 10})
    body = json.dumps({"to": cast.addresses["trader"], "year": YEAR, "amount": 3}).encode()
    me = cast.accounts["enterprise_a"]
    headers = {**typed(client, me, "POST", TRANSFERS, body), "Content-Type": "application/json"}
    assert client.post(TRANSFERS, content=body, headers=headers).status_code == 200
    assert balance(client, cast, "trader") == 3
    tampered = json.dumps({"to": cast.addresses["trader"], "year": YEAR, "amount": 7}).encode()
    headers = {**typed(client, me, "POST", TRANSFERS, body), "Content-Type": "application/json"}
    refused = client.post(TRANSFERS, content=tampered, headers=headers)
    assert (refused.status_code, refused.json()["message"]) == (401, "signature does not match the address")
    assert balance(client, cast, "trader") == 3


def test_a_typed_request_covers_the_path_and_the_method(client: TestClient, cast: Cast):
    me = cast.accounts["self_signer"]
    assert client.get(ORG_PATH, headers=typed(client, me, "GET", f"{V1}/organisations/1")).status_code == 401
    assert client.get(ORG_PATH, headers=typed(client, me, "DELETE", ORG_PATH)).status_code == 401
    assert client.get(f"{ORG_PATH}?x=1", headers=typed(client, me, "GET", ORG_PATH)).status_code == 401


def test_a_replayed_typed_request_is_refused(client: TestClient, cast: Cast):
    headers = typed(client, cast.accounts["self_signer"], "GET", ORG_PATH)
    assert client.get(ORG_PATH, headers=headers).status_code == 200
    replay = client.get(ORG_PATH, headers=headers)
    assert (replay.status_code, replay.json()["message"]) == (401, "request nonce already used")


def test_a_nonce_used_in_one_form_is_spent_for_the_other(client: TestClient, cast: Cast):
    me, nonce = cast.accounts["self_signer"], uuid.uuid4().hex
    first = sign_request(me, "GET", ORG_PATH, b"", int(time.time()), nonce).as_dict()
    assert client.get(ORG_PATH, headers=first).status_code == 200
    again = client.get(ORG_PATH, headers=typed(client, me, "GET", ORG_PATH, nonce=nonce))
    assert (again.status_code, again.json()["message"]) == (401, "request nonce already used")


def test_an_expired_typed_request_is_refused(client: TestClient, cast: Cast, runtime: Runtime):
    window = runtime.settings.signed_request_window_seconds
    stale = typed(client, cast.accounts["self_signer"], "GET", ORG_PATH, timestamp=int(time.time()) - window - 60)
    refused = client.get(ORG_PATH, headers=stale)
    assert (refused.status_code, refused.json()["message"]) == (401, "request timestamp outside the accepted window")


def test_an_eip191_signature_sent_as_typed_data_is_refused(client: TestClient, cast: Cast):
    headers = sign_request(cast.accounts["self_signer"], "GET", ORG_PATH, b"", int(time.time()),
                           uuid.uuid4().hex).as_dict()
    refused = client.get(ORG_PATH, headers={**headers, "X-CL-Signature-Scheme": "eip712"})
    assert (refused.status_code, refused.json()["message"]) == (401, "signature does not match the address")


def test_a_typed_signature_sent_as_eip191_is_refused(client: TestClient, cast: Cast):
    headers = typed(client, cast.accounts["self_signer"], "GET", ORG_PATH)
    assert client.get(ORG_PATH, headers={**headers, "X-CL-Signature-Scheme": "eip191"}).status_code == 401


def test_a_typed_request_for_another_deployment_is_refused(client: TestClient, cast: Cast):
    """Every anvil node has chain id 31337: the domain names Membership's address too."""
    mine = domain_of(client)
    elsewhere = RequestDomain(mine.chain_id, "0x" + "12" * 20)
    headers = sign_typed_request(cast.accounts["self_signer"], elsewhere, "GET", ORG_PATH, b"", int(time.time()),
                                 uuid.uuid4().hex).as_dict()
    assert client.get(ORG_PATH, headers=headers).status_code == 401


def test_an_unknown_scheme_is_refused(client: TestClient, cast: Cast):
    headers = typed(client, cast.accounts["self_signer"], "GET", ORG_PATH)
    refused = client.get(ORG_PATH, headers={**headers, "X-CL-Signature-Scheme": "eip4361"})
    assert refused.status_code == 401
    assert refused.json()["message"].startswith("unknown signature scheme 'eip4361'")


def test_a_typed_request_of_someone_who_is_not_a_member_is_forbidden(client: TestClient, cast: Cast):
    reply = client.get(ORG_PATH, headers=typed(client, cast.accounts["stranger"], "GET", ORG_PATH))
    assert (reply.status_code, reply.json()["error"]) == (403, "MemberNotActive")


def test_the_readme_gives_the_struct_and_its_typehash():
    readme = (REPO_ROOT / "README.md").read_text()
    struct = "Request(" + ",".join(f"{f['type']} {f['name']}" for f in REQUEST_TYPES["Request"]) + ")"
    assert struct in readme
    assert "0x" + bytes(Web3.keccak(text=struct)).hex() in readme
