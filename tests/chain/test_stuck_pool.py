"""anvil can hold a transaction queued after its nonce became its signer's next (it arrived ahead of
predecessors that a node restarted from an older state had forgotten): it neither mines it nor takes it
again. Seen in the fault benchmark as a member's transfers never mined. The outbox's recovery empties such a
signer's pool on an anvil node and hands the stored bytes over again."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from ledger_core.chain import outbox as outbox_module
from ledger_core.chain.outbox import Intent, OutboxStatus
from tests.chain.node_service import YEAR, NodeService


def rpc(service: NodeService, method: str, *params: Any) -> Any:
    return httpx.post(service.url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}).json()


def stuck_transfer(service: NodeService) -> int:
    """A transfer of steel's signed and sent while the node's count for steel was one behind, then the count
    set to its nonce: the node has it queued at steel's next nonce, and keeps it there."""
    runtime = service.runtime
    assert runtime is not None
    steel, trader = service.addresses["steel"], service.addresses["trader"]
    service.transfer("steel", "trader", 1)  # steel's nonce 0 mined: the outbox numbers the next one 1
    rpc(service, "anvil_setNonce", steel, "0x0")
    (record,) = runtime.outbox.submit(
        [Intent("AllowanceRegistry", "safeTransferFrom", (steel, trader, YEAR, 5, b""), steel, requested_by=steel)],
        wait=False)
    assert record.nonce == 1 and record.status == OutboxStatus.SENT
    rpc(service, "anvil_setNonce", steel, "0x1")
    assert rpc(service, "txpool_status")["result"]["queued"] == "0x1"
    assert "already imported" in rpc(service, "eth_sendRawTransaction", record.raw_tx)["error"]["message"]
    return record.id


@pytest.fixture
def stuck(service: NodeService) -> tuple[NodeService, int]:
    service.serve_cast(steel_allowances=100)
    return service, stuck_transfer(service)


def status_of(service: NodeService, row_id: int) -> str:
    return {row.id: row.status for row in service.outbox_rows()}[row_id]


def recover(service: NodeService, stuck_after: float, timeout: float, monkeypatch: pytest.MonkeyPatch) -> None:
    """One round of the outbox's recovery (what the pump runs), a sent transaction counting as stuck after
    `stuck_after` seconds."""
    runtime = service.runtime
    assert runtime is not None
    monkeypatch.setattr(outbox_module, "STUCK_SECONDS", stuck_after)
    runtime.outbox.recover(wait=True, timeout=timeout)


def test_recovery_empties_the_pool_of_a_signer_whose_next_transaction_the_node_holds_unmined(
    stuck: tuple[NodeService, int], monkeypatch: pytest.MonkeyPatch
):
    service, row_id = stuck
    recover(service, 0.0, 10, monkeypatch)
    assert status_of(service, row_id) == "mined"
    assert service.balances()["trader"] == 1 + 5


def test_a_transaction_sent_moments_ago_is_left_to_the_node(
    stuck: tuple[NodeService, int], monkeypatch: pytest.MonkeyPatch
):
    """Within `STUCK_SECONDS` of its sending a transaction is the node's to mine: its pool is left alone, and
    this node, left alone, does not mine it (the defect the recovery is for)."""
    service, row_id = stuck
    recover(service, 3600.0, 2, monkeypatch)
    assert status_of(service, row_id) == "sent"
    assert service.balances()["trader"] == 1
    assert rpc(service, "txpool_status")["result"]["queued"] == "0x1"


def test_a_waiting_caller_s_signer_is_freed_at_once_when_the_node_holds_its_next_transaction(
    stuck: tuple[NodeService, int], monkeypatch: pytest.MonkeyPatch
):
    """A caller waiting for its receipt behind a transaction the node holds is not left to the pump's round
    (`STUCK_SECONDS` after sending, here an hour): the receipt watcher looks after half a second, empties the
    signer's pool and hands both over again in nonce order."""
    service, row_id = stuck
    monkeypatch.setattr(outbox_module, "STUCK_SECONDS", 3600.0)
    started = time.monotonic()
    service.transfer("steel", "trader", 2)  # waits for its receipt: answered mined
    assert time.monotonic() - started < outbox_module.UNSTICK_AFTER + 3
    assert service.balances()["trader"] == 1 + 5 + 2  # the held transfer is mined too
    assert service.runtime is not None
    service.runtime.outbox.recover(wait=True, timeout=5)  # the pump's next round records its receipt
    assert status_of(service, row_id) == "mined"


def test_a_waiting_batch_s_signer_is_freed_after_half_a_second_when_the_node_holds_its_next_transaction(
    stuck: tuple[NodeService, int], monkeypatch: pytest.MonkeyPatch
):
    """A batch request waits for its receipts on its own thread: it too looks after half a second whether the
    node holds its signer's next transaction, rather than waiting for the pump's round (an hour here)."""
    service, row_id = stuck
    monkeypatch.setattr(outbox_module, "STUCK_SECONDS", 3600.0)
    started = time.monotonic()
    transfers = [{"to": service.addresses["trader"], "year": YEAR, "amount": n} for n in (2, 3)]
    reply = service.post("steel", "/allowances/transfers/batch", {"transfers": transfers})
    assert time.monotonic() - started < outbox_module.UNSTICK_AFTER + 3
    assert [tx["status"] for tx in reply["transactions"]] == ["mined", "mined"]
    assert service.balances()["trader"] == 1 + 5 + 2 + 3  # the held transfer is mined too
    assert service.runtime is not None
    service.runtime.outbox.recover(wait=True, timeout=5)
    assert status_of(service, row_id) == "mined"
