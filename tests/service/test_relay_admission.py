"""Relayed transactions cannot jam the outbox: a used nonce, a gap, a transaction that would revert and more
pending than a member's share are refused before anything is recorded or sent."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from ledger_core.chain.client import SendResult
from ledger_core.chain.outbox import Intent
from ledger_core.db.models.outbox import OutboxTransaction
from ledger_service.runtime import Runtime
from tests.service.cast import YEAR, Cast
from tests.service.helpers import V1, allocate, balance
from tests.service.test_transactions_api import relay, signed_call


def outbox_size(runtime: Runtime) -> int:
    with runtime.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(OutboxTransaction)) or 0)


def transfer_raw(runtime: Runtime, cast: Cast, amount: int, nonce: int | None = None) -> str:
    me = cast.accounts["self_signer"]
    return signed_call(runtime, me, "AllowanceRegistry", "safeTransferFrom", me.address, cast.addresses["trader"],
                       YEAR, amount, b"", nonce=nonce)


def relay_without_waiting(client: TestClient, cast: Cast, raw: str):
    return client.post(f"{V1}/transactions/relay", params={"wait": False}, headers=cast.auth("self_signer"),
                       json={"raw_tx": raw})


def test_a_nonce_already_used_on_chain_is_refused_and_nothing_is_recorded(client: TestClient, cast: Cast,
                                                                          runtime: Runtime):
    allocate(client, cast, {"self_signer": 100})
    assert relay(client, cast, "self_signer", transfer_raw(runtime, cast, 1)).status_code == 200
    used = runtime.chain.pending_nonce(cast.addresses["self_signer"]) - 1
    before = outbox_size(runtime)
    reply = relay(client, cast, "self_signer", transfer_raw(runtime, cast, 2, nonce=used))
    assert reply.status_code == 409
    assert (reply.json()["error"], reply.json()["args"]["next"]) == ("NonceTooLow", used + 1)
    assert outbox_size(runtime) == before


def test_a_nonce_that_leaves_a_gap_is_refused(client: TestClient, cast: Cast, runtime: Runtime):
    allocate(client, cast, {"self_signer": 100})
    ahead = runtime.chain.pending_nonce(cast.addresses["self_signer"]) + 3
    before = outbox_size(runtime)
    reply = relay(client, cast, "self_signer", transfer_raw(runtime, cast, 2, nonce=ahead))
    assert (reply.status_code, reply.json()["error"]) == (409, "NonceGap")
    assert outbox_size(runtime) == before


def test_a_relayed_transaction_that_would_revert_is_refused_before_it_spends_its_nonce(client: TestClient,
                                                                                       cast: Cast, runtime: Runtime):
    me = cast.addresses["self_signer"]
    nonce = runtime.chain.pending_nonce(me)
    before = outbox_size(runtime)
    reply = relay(client, cast, "self_signer", transfer_raw(runtime, cast, 5))  # holds nothing
    assert reply.status_code == 409
    assert (reply.json()["error"], reply.json()["args"]["needed"]) == ("ERC1155InsufficientBalance", 5)
    assert (outbox_size(runtime), runtime.chain.pending_nonce(me)) == (before, nonce)


def test_a_member_may_have_only_so_many_relayed_transactions_pending(client: TestClient, cast: Cast,
                                                                     runtime: Runtime):
    allocate(client, cast, {"self_signer": 100})
    runtime.outbox.relay_pending_max = 2
    try:
        first = runtime.chain.pending_nonce(cast.addresses["self_signer"])
        for offset in range(2):  # recorded and sent, receipts not collected yet
            reply = relay_without_waiting(client, cast, transfer_raw(runtime, cast, 1, nonce=first + offset))
            assert reply.status_code == 202, reply.text
        third = relay(client, cast, "self_signer", transfer_raw(runtime, cast, 1, nonce=first + 2))
        assert (third.status_code, third.json()["error"]) == (429, "TooManyPendingRelays")
        runtime.outbox.recover()  # the two are mined: room again
        assert relay(client, cast, "self_signer", transfer_raw(runtime, cast, 1, nonce=first + 2)).status_code == 200
        assert balance(client, cast, "trader") == 3
    finally:
        runtime.outbox.relay_pending_max = runtime.settings.relay_pending_max


def refusing_node(monkeypatch: pytest.MonkeyPatch, runtime: Runtime, message: str) -> None:
    """The node refuses every raw transaction with `message`."""
    monkeypatch.setattr(runtime.chain, "send_raw",
                        lambda raws, hashes: [SendResult(h, message) for h in hashes])


@pytest.fixture
def refused_relay(client: TestClient, cast: Cast, runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> int:
    """A relayed transfer the node refuses ("transaction underpriced"), recorded signed; its outbox id."""
    allocate(client, cast, {"self_signer": 100})
    refusing_node(monkeypatch, runtime, "transaction underpriced")
    reply = relay_without_waiting(client, cast, transfer_raw(runtime, cast, 1))
    assert (reply.status_code, reply.json()["status"]) == (202, "signed")
    return int(reply.json()["id"])


def test_a_relayed_transaction_the_node_keeps_refusing_fails_after_its_budget(client: TestClient, cast: Cast,
                                                                              runtime: Runtime, refused_relay: int):
    """Reported: refused relayed rows were re-broadcast on every cycle for ever (84 attempts in 100 s)."""
    outbox_id = refused_relay
    runtime.outbox.send_attempts_max, runtime.outbox.retry_seconds = 3, 0.0
    try:
        for _ in range(5):
            runtime.outbox.recover(wait=False)
    finally:
        runtime.outbox.send_attempts_max = runtime.settings.send_attempts_max
        runtime.outbox.retry_seconds = runtime.settings.outbox_interval_seconds
    followed = client.get(f"/api/v1/transactions/{outbox_id}", headers=cast.auth("self_signer")).json()
    assert (followed["status"], followed["error"]["name"]) == ("failed", "RefusedByNode")
    assert followed["error"]["args"] == {"message": "transaction underpriced", "attempts": 3}


def test_a_refused_transaction_is_tried_again_after_a_growing_pause(runtime: Runtime, refused_relay: int,
                                                                    monkeypatch: pytest.MonkeyPatch):
    tries: list[int] = []
    real = runtime.chain.send_raw
    monkeypatch.setattr(runtime.chain, "send_raw", lambda raws, hashes: tries.append(len(raws)) or real(raws, hashes))
    for _ in range(5):
        runtime.outbox.recover(wait=False)  # within the pause: not sent again
    assert tries == []
    (record,) = [r for r in runtime.outbox.pending() if r.id == refused_relay]
    assert runtime.outbox._due(record, record.updated_at + timedelta(seconds=60))  # type: ignore[operator]


def test_the_pump_serves_every_signer_not_only_the_one_with_the_longest_backlog(client: TestClient, cast: Cast,
                                                                                 runtime: Runtime,
                                                                                 monkeypatch: pytest.MonkeyPatch):
    allocate(client, cast, {"self_signer": 100, "enterprise_a": 100})
    refusing_node(monkeypatch, runtime, "node busy")
    a, me = cast.addresses["enterprise_a"], cast.addresses["self_signer"]
    runtime.outbox.submit([Intent("AllowanceRegistry", "safeTransferFrom", (a, me, YEAR, 1, b""), a)] * 5, wait=False)
    relay_without_waiting(client, cast, transfer_raw(runtime, cast, 1))
    chosen = runtime.outbox.pending(limit=3, per_signer=2)
    assert sorted(r.signer for r in chosen) == sorted([a, a, me])
    assert [r.nonce for r in chosen if r.signer == a] == sorted(r.nonce for r in chosen if r.signer == a)


def priced_transfer(runtime: Runtime, cast: Cast, amount: int, nonce: int, tip: int) -> str:
    """A transfer signed by the self-signing member with its own fee: the chain's cap plus `tip` on top."""
    me = cast.accounts["self_signer"]
    cap = runtime.chain.fees.max_price + tip
    tx = {"to": runtime.deployment.addresses["AllowanceRegistry"], "value": 0, "gas": 500_000, "nonce": nonce,
          "chainId": runtime.chain.chain_id, "maxFeePerGas": cap, "maxPriorityFeePerGas": tip,
          "data": runtime.encoder.encode("AllowanceRegistry", "safeTransferFrom",
                                         (me.address, cast.addresses["trader"], YEAR, amount, b""))}
    return "0x" + bytes(me.sign_transaction(tx).raw_transaction).hex()


class PoolingNode:
    """A node that takes raw transactions into its pool and, while `holding`, mines none of them; those it
    held stay in its pool whatever comes later (the service's pump may send them again at any time)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, runtime: Runtime) -> None:
        self.real = runtime.chain.send_raw
        self.held: list[str] = []
        self.holding = True
        monkeypatch.setattr(runtime.chain, "send_raw", self.send)

    def send(self, raws: list[str], hashes: list[str]) -> list[SendResult]:
        results = []
        for raw, tx_hash in zip(raws, hashes, strict=True):
            if raw in self.held or self.holding:
                if raw not in self.held:
                    self.held.append(raw)
                results.append(SendResult(tx_hash))
            else:
                results.extend(self.real([raw], [tx_hash]))
        return results


def row(client: TestClient, cast: Cast, outbox_id: int) -> dict:
    return client.get(f"{V1}/transactions/{outbox_id}", headers=cast.auth("self_signer")).json()


def test_a_pending_relayed_transaction_is_replaced_by_one_paying_more_at_the_same_nonce(
        client: TestClient, cast: Cast, runtime: Runtime, monkeypatch: pytest.MonkeyPatch):
    """A wallet's "speed up": the same nonce, a higher fee. Reported: the relay refused it or kept both."""
    allocate(client, cast, {"self_signer": 100})
    node = PoolingNode(monkeypatch, runtime)
    nonce = runtime.chain.pending_nonce(cast.addresses["self_signer"])
    stuck = relay_without_waiting(client, cast, priced_transfer(runtime, cast, 7, nonce, tip=10**9))
    assert (stuck.status_code, stuck.json()["status"]) == (202, "sent")
    node.holding = False  # the node mines what comes next
    faster = relay(client, cast, "self_signer", priced_transfer(runtime, cast, 8, nonce, tip=2 * 10**9))
    assert (faster.status_code, faster.json()["status"], faster.json()["replaces_id"]) == (
        200, "mined", stuck.json()["id"])
    runtime.outbox.recover()
    old = row(client, cast, stuck.json()["id"])
    assert (old["status"], old["final"], old["replaced_by"]) == ("replaced", True, faster.json()["id"])
    assert balance(client, cast, "trader") == 8  # the replacement moved, the replaced one never did


def test_a_replacement_that_does_not_pay_enough_more_is_refused_and_nothing_is_recorded(
        client: TestClient, cast: Cast, runtime: Runtime, monkeypatch: pytest.MonkeyPatch):
    allocate(client, cast, {"self_signer": 100})
    PoolingNode(monkeypatch, runtime)
    nonce = runtime.chain.pending_nonce(cast.addresses["self_signer"])
    tip = 10**9
    assert relay_without_waiting(client, cast, priced_transfer(runtime, cast, 7, nonce, tip)).status_code == 202
    before = outbox_size(runtime)
    cheap = relay(client, cast, "self_signer", priced_transfer(runtime, cast, 8, nonce, tip + tip // 20))  # +5%
    assert (cheap.status_code, cheap.json()["error"]) == (409, "ReplacementUnderpriced")
    assert cheap.json()["args"]["max_priority_fee_per_gas"] == tip + tip // 10
    assert outbox_size(runtime) == before


def test_a_replaced_transaction_the_node_had_mined_first_counts_and_its_replacement_is_dropped(
        client: TestClient, cast: Cast, runtime: Runtime, monkeypatch: pytest.MonkeyPatch):
    allocate(client, cast, {"self_signer": 100})
    node = PoolingNode(monkeypatch, runtime)
    nonce = runtime.chain.pending_nonce(cast.addresses["self_signer"])
    first = relay_without_waiting(client, cast, priced_transfer(runtime, cast, 7, nonce, tip=10**9)).json()
    second = relay_without_waiting(client, cast, priced_transfer(runtime, cast, 8, nonce, tip=2 * 10**9)).json()
    assert (second["replaces_id"], row(client, cast, first["id"])["status"]) == (first["id"], "replaced")
    node.holding = False
    node.real([node.held[0]], [first["tx_hash"]])  # the node had mined the first before the second came
    runtime.outbox.recover()
    assert (row(client, cast, first["id"])["status"], row(client, cast, second["id"])["status"]) == ("mined",
                                                                                                     "dropped")
    assert balance(client, cast, "trader") == 7
