"""Members on a free-gas node, as users meet them: nobody is ever sent ether.

A regulator admits custodial members (the service keeps their keys) and a non-custodial one (its key
stays with the client) through the API. Each enterprise registers a meter, transfers allowances and
trades on the market: the custodial one through the API's endpoints, the non-custodial one by signing
its own transactions with zero fees and relaying them. Every transaction is mined, the balances end
where the trades put them, and every account, the regulator's included, still holds 0 ether.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

from oracles.devices import DeviceInfo
from tests.chain.node_service import V1, YEAR, NodeService

PARK, STEEL, CEMENT, BANK = 10, 11, 12, 45
PRICE = "60.00"  # the reference price the band is computed from (±10% for ordinary trades)
DAY = 86_400
GAS = 1_000_000  # a generous limit costs nothing where gas is free


@dataclass
class SelfSigner:
    """The client of a non-custodial member, as a wallet works: its own key; chain id, fees, next nonce,
    addresses and ABIs from the API (`/transactions/signing`, `/transactions/abi/{contract}`); it signs
    and the service relays."""

    account: LocalAccount
    service: NodeService
    signed: int = 0
    abis: dict[str, Any] = field(default_factory=dict)

    @property
    def address(self) -> str:
        return str(self.account.address)

    def info(self) -> dict[str, Any]:
        return self.service.get("self_signer", "/transactions/signing")

    def address_of(self, contract: str) -> str:
        return str(self.info()["contracts"][contract]["address"])

    def sign(self, contract: str, function: str, *args: Any) -> str:
        info = self.info()
        if contract not in self.abis:
            assert self.service.client is not None
            self.abis[contract] = self.service.client.get(f"{V1}/transactions/abi/{contract}",
                                                          headers=self.service.auth("self_signer")).json()
        target = Web3().eth.contract(address=info["contracts"][contract]["address"], abi=self.abis[contract])
        tx = {"to": target.address, "data": target.encode_abi(function, list(args)), "value": 0, "gas": GAS,
              "chainId": info["chain_id"], "nonce": info["next_nonce"], **info["fees"]}
        assert info["free_gas"] and all(fee == 0 for fee in info["fees"].values())
        self.signed += 1
        return "0x" + bytes(self.account.sign_transaction(tx).raw_transaction).hex()


def ether(service: NodeService, address: str) -> int:
    """The account's ether as the node holds it (an observation, not a step of the user's)."""
    reply = httpx.post(service.url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_getBalance",
                                          "params": [address, "latest"]}, timeout=10)
    return int(reply.json()["result"], 16)


def assert_mined(*txs: dict[str, Any]) -> None:
    for tx in txs:
        assert tx["status"] == "mined" and tx["error"] is None, tx


def relay(service: NodeService, me: SelfSigner, contract: str, function: str, *args: Any) -> dict[str, Any]:
    """Sign with the member's key, relay through the API, and follow the transaction until it is mined;
    the member pays nothing for it."""
    tx = service.post("self_signer", "/transactions/relay", {"raw_tx": me.sign(contract, function, *args)})
    assert (tx["contract"], tx["function"], tx["signer"]) == (contract, function, me.address), tx
    followed = service.get("self_signer", f"/transactions/{tx['id']}")
    assert_mined(tx, followed)
    assert followed["origin"] == "relayed"
    assert ether(service, me.address) == 0
    return tx


def allowances(service: NodeService, name: str) -> int:
    return int(service.get(name, f"/allowances/balances/{service.addresses[name]}", years=[YEAR])["balances"][
        str(YEAR)])


def cny(service: NodeService, name: str) -> str:
    return str(service.get(name, f"/settlement/balances/{service.addresses[name]}")["balance"])


def admit(service: NodeService) -> SelfSigner:
    """Organisations, two custodial members (an enterprise, a settlement bank) and a non-custodial
    enterprise, each given an API key by the regulator: all through the API."""
    for org_id, parent, kind, name in ((PARK, 0, "park", "Green Valley Industrial Park"),
                                       (STEEL, PARK, "enterprise", "Riverside Steel"),
                                       (CEMENT, PARK, "enterprise", "Eastern Cement"),
                                       (BANK, 0, "bank", "Harbour Settlement Bank")):
        created = service.post("regulator", "/organisations", {"org_id": org_id, "parent_id": parent,
                                                               "kind": kind, "name": name})
        assert_mined(created["transaction"])

    own_key = Account.create()
    for name, body in (("steel", {"org_id": STEEL, "roles": ["ENTERPRISE"], "custodial": True}),
                       ("bank", {"org_id": BANK, "roles": ["SETTLEMENT_BANK"], "custodial": True}),
                       ("self_signer", {"org_id": CEMENT, "roles": ["ENTERPRISE"], "custodial": False,
                                        "address": own_key.address})):
        admitted = service.post("regulator", "/members", body)
        assert_mined(admitted["transaction"])
        member = admitted["member"]
        assert (member["status"], member["custodial"]) == ("active", body["custodial"]), member
        service.addresses[name] = member["address"]
        service.tokens[name] = service.post("regulator", "/api-keys", {"member": member["address"],
                                                                       "label": name})["token"]
    assert service.addresses["self_signer"] == own_key.address

    return SelfSigner(own_key, service)


def register_devices(service: NodeService, me: SelfSigner) -> None:
    steel = service.post("steel", "/meters/devices", {
        "device_id": "steel-kiln-1", "enterprise_org_id": STEEL, "facility": "riverside", "workshop": "kiln",
        "public_key": secrets.token_hex(32)})
    assert_mined(steel["transaction"])

    # The self-signer anchors its device in MeterAnchor itself, then tells the service's oracle the key:
    # the service finds the device on chain and sends nothing.
    device = DeviceInfo("cement-mill-1", CEMENT, "eastern", "mill", secrets.token_bytes(32))
    relay(service, me, "MeterAnchor", "registerDevice", device.device_hash, CEMENT, device.facility_id,
          device.workshop_id, device.public_key_hash)
    recorded = service.post("self_signer", "/meters/devices", {
        "device_id": device.device_id, "enterprise_org_id": CEMENT, "facility": device.facility,
        "workshop": device.workshop, "public_key": device.public_key.hex()})
    assert recorded["transaction"] is None

    for name, device_id, org_id in (("steel", "steel-kiln-1", STEEL), ("self_signer", "cement-mill-1", CEMENT)):
        shown = service.get(name, f"/meters/devices/{device_id}")
        assert (shown["enterprise_org_id"], shown["active"]) == (org_id, True), shown


def transfer_allowances(service: NodeService, me: SelfSigner) -> None:
    allocated = service.post("regulator", "/allowances/allocations", {"year": YEAR, "allocations": [
        {"holder": service.addresses["steel"], "amount": 100}, {"holder": me.address, "amount": 80}]})
    assert_mined(allocated)

    assert_mined(service.post("steel", "/allowances/transfers", {"to": me.address, "year": YEAR, "amount": 10}))
    relay(service, me, "AllowanceRegistry", "safeTransferFrom", me.address, service.addresses["steel"], YEAR, 5,
          b"")
    assert (allowances(service, "steel"), allowances(service, "self_signer")) == (100 - 10 + 5, 80 + 10 - 5)


def prepare_market(service: NodeService) -> None:
    """A reference price for the vintage and CNY 10,000.00 for each enterprise, minted by the bank."""
    assert_mined(service.post("regulator", "/market/reference-prices", {"asset": "allowance", "token_id": YEAR,
                                                                        "price": PRICE}))
    for name in ("steel", "self_signer"):
        assert_mined(service.post("bank", "/settlement/mint", {"to": service.addresses[name], "amount": "10000.00"}))
        assert cny(service, name) == "10000.00"


def expiry_in_a_day(service: NodeService) -> int:
    """Chain time as the order book reports it, plus a day."""
    as_of = service.get("steel", f"/market/books/allowance/{YEAR}")["as_of"]
    return int(datetime.fromisoformat(as_of).timestamp()) + DAY


def custodial_lists_and_self_signer_fills(service: NodeService, me: SelfSigner) -> None:
    listed = service.post("steel", "/market/orders", {"asset": "allowance", "token_id": YEAR, "amount": 20,
                                                      "price": PRICE, "expiry": expiry_in_a_day(service)})
    assert [t["function"] for t in listed["transactions"]] == ["setApprovalForAll", "list"]
    assert_mined(*listed["transactions"])
    order = listed["order"]
    assert (order["status"], order["remaining"], order["seller"]) == ("open", 20, service.addresses["steel"])

    market = me.address_of("CarbonMarket")
    relay(service, me, "SettlementToken", "approve", market, 15 * order["price_units"])
    relay(service, me, "CarbonMarket", "fill", order["order_id"], 15)
    after = service.get("self_signer", f"/market/orders/{order['order_id']}")
    assert (after["status"], after["remaining"]) == ("open", 5)


def self_signer_lists_and_custodial_fills(service: NodeService, me: SelfSigner) -> None:
    market, registry = me.address_of("CarbonMarket"), me.address_of("AllowanceRegistry")
    relay(service, me, "AllowanceRegistry", "setApprovalForAll", market, True)
    relay(service, me, "CarbonMarket", "list", registry, YEAR, 30, 6100, expiry_in_a_day(service))
    # The relay answers with the transaction; the member finds its order among its organisation's.
    (order, *_) = service.get("self_signer", "/market/orders")["items"]
    assert (order["seller"], order["amount"], order["price"], order["status"]) == (me.address, 30, "61.00", "open")

    filled = service.post("steel", f"/market/orders/{order['order_id']}/fill", {"amount": 25})
    assert [t["function"] for t in filled["transactions"]] == ["approve", "fill"]
    assert_mined(*filled["transactions"])
    assert (filled["order"]["status"], filled["order"]["remaining"]) == ("open", 5)


def test_custodial_and_self_signing_members_meter_transfer_and_trade_without_ether(service: NodeService):
    service.start_node()
    service.deploy()
    service.start_service()
    assert service.runtime is not None and service.runtime.chain.fees.max_price == 0  # the node charges no gas

    me = admit(service)
    assert ether(service, me.address) == 0
    register_devices(service, me)
    transfer_allowances(service, me)
    prepare_market(service)
    custodial_lists_and_self_signer_fills(service, me)
    self_signer_lists_and_custodial_fills(service, me)

    # steel: 95, 20 into escrow, 25 bought; the self-signer: 85, 15 bought, 30 into escrow (5 left in each order)
    assert (allowances(service, "steel"), allowances(service, "self_signer")) == (95 - 20 + 25, 85 + 15 - 30)
    # 15 t at 60.00 paid to steel, 25 t at 61.00 paid to the self-signer
    assert cny(service, "steel") == "9375.00" and cny(service, "self_signer") == "10625.00"
    trades = service.get("regulator", f"/market/trades/allowance/{YEAR}")["items"]
    steel = service.addresses["steel"]
    assert [(t["seller"], t["buyer"], t["amount"], t["payment"]) for t in trades] == [
        (me.address, steel, 25, "1525.00"), (steel, me.address, 15, "900.00")]  # newest first

    # Every transaction the service sent or relayed is mined; the self-signer's six (device, transfer, approve,
    # fill, setApprovalForAll, list) are signed by it, nonces 0 to 5.
    everything = service.get("regulator", "/transactions", limit=100)
    assert everything["page"]["total"] == len(everything["items"]) > 0
    assert {t["status"] for t in everything["items"]} == {"mined"}
    own = sorted(t["nonce"] for t in everything["items"] if t["signer"] == me.address)
    assert own == list(range(me.signed)) == list(range(6))

    # Nobody was sent ether: not the regulator that deployed, nor any member.
    assert {name: ether(service, address) for name, address in service.addresses.items()} == {
        "regulator": 0, "steel": 0, "bank": 0, "self_signer": 0}
