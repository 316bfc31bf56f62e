"""The service over a local anvil node that keeps its state in a file.

A node killed hard comes back from its last periodic state dump and has forgotten every block
mined after it. The service notices when its index finds its stored block hashes gone: the
index rolls back to the common block, the outbox marks the transactions recorded in the lost
blocks as signed again and re-sends the same signed bytes, so the chain ends where the service
left it, each transaction mined once. A graceful stop of both keeps everything.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from ledger_service.audit.reconcile import reconcile
from tests.chain.node_service import YEAR, NodeService, wait_for_dump


def allocate(service: NodeService, grants: dict[str, int]) -> None:
    tx = service.post("regulator", "/allowances/allocations", {
        "year": YEAR, "allocations": [{"holder": service.addresses[n], "amount": a} for n, a in grants.items()]})
    assert tx["status"] == "mined", tx


def rpc(url: str, method: str, *params: Any) -> Any:
    reply = httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}, timeout=10)
    return reply.json()["result"]


def assert_reconciled(service: NodeService) -> None:
    runtime = service.runtime
    assert runtime is not None
    runtime.indexing.index_up_to_date()
    report = runtime.chain.request(lambda: reconcile(runtime.engine, runtime.suite, chain=runtime.chain))
    assert report.ok, report.differences
    assert report.block == runtime.chain.block_number()
    assert report.checked["balance"] >= 3 and report.checked["member"] >= 4
    syncs = runtime.indexing.status.syncs
    runtime.indexing.index_up_to_date()  # the head's number and hash are those indexed: nothing to read
    assert runtime.indexing.status.syncs == syncs


def assert_each_transaction_mined_once(service: NodeService) -> None:
    """Every outbox row mined, no nonce used twice, and each signer's outbox nonces run without a gap
    up to its nonce on chain (the regulator's first ones deployed the suite, outside the outbox)."""
    runtime = service.runtime
    assert runtime is not None
    rows = service.outbox_rows()
    assert {r.status for r in rows} == {"mined"}
    assert len({r.tx_hash for r in rows}) == len(rows)
    nonces: dict[str, list[int]] = defaultdict(list)
    for r in rows:
        assert r.nonce is not None
        nonces[r.signer].append(r.nonce)
    for signer, used in nonces.items():
        on_chain = runtime.chain.pending_nonce(signer)
        assert sorted(used) == list(range(on_chain - len(used), on_chain)), signer


@dataclass
class Crash:
    dumped_head: int
    crashed_head: int
    written: dict[str, int]
    lost: list[dict[str, Any]]


def write_then_crash(service: NodeService, also_the_service: bool = False) -> Crash:
    """Writes, a state dump, more writes (mined and indexed), then the node killed with -9 and started
    again from that dump; with `also_the_service` the service process goes down with it and starts again."""
    service.start_node(state_interval=1)
    service.deploy()
    service.start_service(index_confirmations=2)
    runtime = service.runtime
    assert runtime is not None
    service.admit_cast()
    allocate(service, {"steel": 100, "cement": 50})
    service.transfer("steel", "trader", 10)
    runtime.indexing.index_up_to_date()
    dumped_head = runtime.chain.block_number()
    wait_for_dump(service.node.state_file, dumped_head)
    last_dump = service.node.state_file.read_bytes()

    lost = [service.transfer("steel", "trader", 7), service.transfer("cement", "steel", 5),
            service.transfer("trader", "cement", 3)]
    allocate(service, {"cement": 20})
    written = service.balances()
    assert written == {"steel": 100 - 10 - 7 + 5, "cement": 50 - 5 + 3 + 20, "trader": 10 + 7 - 3}
    crashed_head = runtime.chain.block_number()
    assert runtime.indexing.index_up_to_date() == crashed_head > dumped_head

    if also_the_service:
        service.stop_service()
    service.node.stop(hard=True)  # kill -9: no dump on the way down
    # The node restarts from its last periodic dump (pinned here: a dump the node might have
    # written between the last write and the kill would have held the later blocks).
    service.node.state_file.write_bytes(last_dump)
    service.start_node(state_interval=1)
    assert int(rpc(service.url, "eth_blockNumber"), 16) == dumped_head
    if also_the_service:
        service.start_service(index_confirmations=2)
    else:
        assert service.balances() == {"steel": 90, "cement": 50, "trader": 10}
    return Crash(dumped_head, crashed_head, written, lost)


def assert_sent_again(service: NodeService, crash: Crash) -> None:
    """The lost transactions are mined again, the same signed bytes, once each; the index agrees."""
    assert service.balances() == crash.written
    rows = {r.id: r for r in service.outbox_rows()}
    for tx in crash.lost:
        row = rows[tx["id"]]
        assert (row.status, row.tx_hash, row.nonce) == ("mined", tx["tx_hash"], tx["nonce"])
        assert row.block_number is not None and row.block_number > crash.dumped_head
    assert_each_transaction_mined_once(service)
    assert_reconciled(service)
    assert service.runtime is not None and service.runtime.indexing.status.last_error is None


@pytest.mark.parametrize("also_the_service", [False, True], ids=["service-kept", "service-restarted"])
def test_a_node_killed_between_state_dumps_is_sent_the_transactions_it_forgot(service: NodeService,
                                                                              also_the_service: bool):
    crash = write_then_crash(service, also_the_service)
    runtime = service.runtime
    assert runtime is not None

    rows = {r.id: r for r in service.outbox_rows()}
    if also_the_service:  # noticed at start: sent again, receipts not yet collected
        assert {rows[tx["id"]].status for tx in crash.lost} == {"sent"}
    else:  # not noticed yet: still recorded as mined in the lost blocks
        assert [rows[tx["id"]].block_number for tx in crash.lost] == [tx["block_number"] for tx in crash.lost]

    if not also_the_service:
        # block hashes differ: roll back, mark the lost transactions signed, re-send (a restarted service
        # did this as it started: each signer's nonce on chain is below what the outbox recorded as mined)
        runtime.indexing.index_up_to_date()
    runtime.outbox.recover()  # what the background pump does next: collect their receipts
    assert_sent_again(service, crash)

    service.transfer("steel", "cement", 1)  # the nonces carry on after the re-sent ones
    assert service.balances()["cement"] == crash.written["cement"] + 1
    assert_each_transaction_mined_once(service)


def test_a_write_that_comes_before_the_index_noticed_waits_for_the_lost_ones(service: NodeService):
    """The service still counts the lost transactions' nonces as used: a new transfer is sent after
    them, the node holds it until the lost ones are back, then mines it too."""
    crash = write_then_crash(service)
    runtime = service.runtime
    assert runtime is not None and service.client is not None
    reply = service.client.post("/api/v1/allowances/transfers", headers=service.auth("steel"), params={"wait": False},
                                json={"to": service.addresses["cement"], "year": YEAR, "amount": 2})
    assert reply.status_code == 202 and reply.json()["status"] == "sent", reply.text
    assert reply.json()["nonce"] == max(tx["nonce"] for tx in crash.lost if tx["signer"] == reply.json()["signer"]) + 1

    runtime.indexing.index_up_to_date()
    runtime.outbox.recover()
    crash.written.update(steel=crash.written["steel"] - 2, cement=crash.written["cement"] + 2)
    assert_sent_again(service, crash)


def test_a_restarted_node_back_at_the_same_height_is_noticed_by_its_block_hash(service: NodeService):
    """Other senders' blocks can bring the restarted node back to the height the index had reached:
    the index compares the head's hash, not only its number."""
    crash = write_then_crash(service)
    runtime = service.runtime
    assert runtime is not None
    for _ in range(crash.crashed_head - crash.dumped_head):
        rpc(service.url, "evm_mine")
    assert runtime.chain.block_number() == crash.crashed_head == runtime.indexing.status.indexed_block

    runtime.indexing.index_up_to_date()
    runtime.outbox.recover()
    assert_sent_again(service, crash)


def test_stopping_and_starting_node_and_service_keeps_every_write(service: NodeService):
    service.start_node(state_interval=60)
    service.deploy()
    service.start_service()
    assert service.runtime is not None
    service.admit_cast()
    allocate(service, {"steel": 40, "cement": 30})
    service.transfer("steel", "trader", 4)
    service.transfer("cement", "trader", 6)
    written = service.balances()
    head = service.runtime.chain.block_number()
    tokens = dict(service.tokens)

    service.stop_service()
    assert service.node.stop() is True  # SIGTERM: the node dumps its state on the way down
    service.start_node(state_interval=60)
    service.start_service()
    runtime = service.runtime
    assert runtime is not None
    assert runtime.bootstrap_api_key is None  # issued once, kept in the database
    service.tokens.update(tokens)

    assert runtime.chain.block_number() == head
    assert service.balances() == written == {"steel": 36, "cement": 24, "trader": 10}
    assert service.get("steel", f"/members/{service.addresses['steel']}")["status"] == "active"
    assert_reconciled(service)
    service.transfer("trader", "steel", 2)
    assert service.balances()["steel"] == 38
    assert_each_transaction_mined_once(service)
