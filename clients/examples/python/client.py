"""A CarbonLedger client in Python with web3.py, holding its own key (a non-custodial member).

The same steps as the TypeScript example (`clients/examples/ts/client.ts`):

1. find the chain and the suite through the discovery endpoint (no credentials) and check that the deployed ABIs
   are the kit's (`clients/abi/`; their hashes recomputed by the README's recipe);
2. read the member's allowance balance from the node, at the address discovery gave;
3. sign API requests as EIP-712 typed data (`X-CL-Signature-Scheme: eip712`);
4. sign an allowance transfer and have the service relay it, then read both balances again;
5. decode the custom error of a call the contract refuses, and see the service refuse to relay it by that name.

Needs only `web3` (which brings `eth-account` and `eth-abi`) and the kit's `clients/abi/` folder. Settings
(environment): CARBONLEDGER_URL, CARBONLEDGER_RPC_URL, MEMBER_KEY, RECIPIENT, YEAR, AMOUNT. Prints one JSON
line of what it found.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from eth_abi import decode
from eth_account import Account
from eth_account.messages import encode_typed_data
from web3 import Web3
from web3.exceptions import ContractCustomError

ABI_DIR = Path(__file__).resolve().parents[2] / "abi"
REQUEST_TYPES = {"Request": [{"name": "method", "type": "string"}, {"name": "path", "type": "string"},
                             {"name": "bodyHash", "type": "bytes32"}, {"name": "timestamp", "type": "uint256"},
                             {"name": "nonce", "type": "string"}]}
DOMAIN_TYPES = [{"name": "name", "type": "string"}, {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"}, {"name": "verifyingContract", "type": "address"}]

service = os.environ["CARBONLEDGER_URL"].rstrip("/")
node = Web3(Web3.HTTPProvider(os.environ["CARBONLEDGER_RPC_URL"]))
member = Account.from_key(os.environ["MEMBER_KEY"])
recipient = Web3.to_checksum_address(os.environ["RECIPIENT"])
year, amount = int(os.environ["YEAR"]), int(os.environ["AMOUNT"])


def abi_hash(abi: list[dict[str, Any]]) -> str:
    """The README's recipe: JSON with sorted keys, ", " and ": " as separators, ASCII; then SHA-256."""
    return hashlib.sha256(json.dumps(abi, sort_keys=True, separators=(", ", ": "), ensure_ascii=True)
                          .encode()).hexdigest()


def http(method: str, path: str, body: bytes | None = None,
         headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(service + path, data=body, method=method,
                                     headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=60) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read())


def signed(info: dict[str, Any], method: str, path: str, payload: Any = None) -> tuple[int, dict[str, Any]]:
    """An API request signed as EIP-712 typed data: method, path (with query), the body's SHA-256, time, nonce."""
    body = b"" if payload is None else json.dumps(payload).encode()
    timestamp, nonce = int(time.time()), uuid.uuid4().hex
    typed = {"types": {"EIP712Domain": DOMAIN_TYPES, **REQUEST_TYPES}, "primaryType": "Request",
             "domain": info["signed_requests"]["eip712_domain"],
             "message": {"method": method, "path": path, "bodyHash": "0x" + hashlib.sha256(body).hexdigest(),
                         "timestamp": timestamp, "nonce": nonce}}
    signature = member.sign_message(encode_typed_data(full_message=typed)).signature
    return http(method, path, body if payload is not None else None, {
        "X-CL-Address": member.address, "X-CL-Timestamp": str(timestamp), "X-CL-Nonce": nonce,
        "X-CL-Signature": "0x" + bytes(signature).hex(), "X-CL-Signature-Scheme": "eip712"})


def custom_errors(abis: dict[str, list[dict[str, Any]]]) -> dict[bytes, dict[str, Any]]:
    """Every custom error of the suite by its selector, whichever contract declares it."""
    def kind(param: dict[str, Any]) -> str:
        if param["type"].startswith("tuple"):
            return "(" + ",".join(kind(c) for c in param["components"]) + ")" + param["type"][5:]
        return str(param["type"])

    found = {}
    for abi in abis.values():
        for entry in abi:
            if entry["type"] == "error":
                types = [kind(p) for p in entry["inputs"]]
                found[bytes(Web3.keccak(text=f"{entry['name']}({','.join(types)})")[:4])] = {**entry, "types": types}
    return found


def decode_error(errors: dict[bytes, dict[str, Any]], data: str) -> dict[str, Any]:
    raw = bytes.fromhex(data.removeprefix("0x"))
    entry = errors[raw[:4]]
    return {"error": entry["name"], "args": [str(v) for v in decode(entry["types"], raw[4:])]}


def main() -> None:
    status, info = http("GET", "/api/v1/chain")
    assert status == 200, info
    if info["signed_requests"]["eip712_types"] != REQUEST_TYPES:
        raise SystemExit("the service signs another request layout than this client")
    abis = {name: json.loads((ABI_DIR / f"{name}.json").read_text()) for name in info["contracts"]}
    mismatched = [name for name, c in info["contracts"].items() if c["abi_hash"] != abi_hash(abis[name])]
    registry = node.eth.contract(address=info["contracts"]["AllowanceRegistry"]["address"],
                                 abi=abis["AllowanceRegistry"])

    def balance(holder: str) -> int:
        return int(registry.functions.balanceOf(holder, year).call())

    before = balance(member.address)
    status, signing = signed(info, "GET", "/api/v1/transactions/signing")
    assert status == 200, signing

    def sign(value: int, nonce: int) -> str:
        """A transfer signed with what the service says: chain id, next nonce, fee fields (zeros when free)."""
        data = registry.encode_abi("safeTransferFrom", [member.address, recipient, year, value, b""])
        tx = {"to": registry.address, "data": data, "value": 0, "gas": 300_000, "chainId": info["chain_id"],
              "nonce": nonce, **signing["fees"]}
        return "0x" + bytes(member.sign_transaction(tx).raw_transaction).hex()

    raw = sign(amount, signing["next_nonce"])
    status, relayed = signed(info, "POST", "/api/v1/transactions/relay", {"raw_tx": raw})
    assert status == 200, relayed
    after, recipient_after = balance(member.address), balance(recipient)

    too_much = after + 1  # the contract refuses with a custom error, decoded here from the revert data
    refused = None
    try:
        registry.functions.safeTransferFrom(member.address, recipient, year, too_much, b"").call(
            {"from": member.address})
    except ContractCustomError as exc:
        refused = decode_error(custom_errors(abis), str(exc.data))
    status, refusal = signed(info, "POST", "/api/v1/transactions/relay",
                             {"raw_tx": sign(too_much, signing["next_nonce"] + 1)})

    print(json.dumps({
        "client": "python-web3", "chain_id": info["chain_id"], "free_gas": info["free_gas"],
        "abi_hashes_match": not mismatched, "mismatched": mismatched, "balance_before": str(before),
        "relayed": {"status": relayed["status"], "tx_hash": relayed["tx_hash"]}, "balance_after": str(after),
        "recipient_after": str(recipient_after), "refused": refused,
        "service_refusal": {"status": status, "error": refusal.get("error")},
    }))


if __name__ == "__main__":
    main()
