"""A node restarted from a state dump taken while it mined can hold state that is ahead of its blocks: a
member's nonce spent, and the transfer's effect applied, with no block holding the transaction. Seen in the
fault benchmark: the outbox took the spent nonce for "taken by another transaction", queued the transfer again,
and the asset moved twice (reconcile: index 738, chain 739). A custodial row is now sent again under a new nonce
only when the chain names the transaction that took its nonce; here it names none, and the row is dropped
without a second attempt, its reason recorded."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from ledger_core.chain.outbox import Intent, OutboxStatus
from tests.chain.node_service import YEAR, NodeService


def rpc(service: NodeService, method: str, *params: Any) -> Any:
    return httpx.post(service.url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}).json()


@pytest.fixture
def spent_nonce(service: NodeService) -> tuple[NodeService, int]:
    """A transfer of steel's, signed but not yet sent, whose nonce the node's state then counts as spent with
    no transaction in any block (as a node restored from a dump whose state ran ahead of its blocks)."""
    service.serve_cast(steel_allowances=100)
    runtime = service.runtime
    assert runtime is not None
    steel, trader = service.addresses["steel"], service.addresses["trader"]

    def crash_after_signing(stage: str) -> None:
        if stage == "signed":
            raise ConnectionError("the service went away")

    runtime.outbox.faults = crash_after_signing
    with pytest.raises(ConnectionError):
        runtime.outbox.submit([Intent("AllowanceRegistry", "safeTransferFrom", (steel, trader, YEAR, 5, b""), steel,
                                      requested_by=steel)])
    runtime.outbox.faults = None
    (row,) = [r for r in service.outbox_rows() if r.status == OutboxStatus.SIGNED]
    assert row.nonce is not None
    rpc(service, "anvil_setNonce", steel, hex(row.nonce + 1))
    assert rpc(service, "ots_getTransactionBySenderAndNonce", steel, row.nonce)["result"] is None
    return service, row.id


def test_a_row_whose_nonce_no_transaction_holds_is_dropped_and_not_sent_again(
        spent_nonce: tuple[NodeService, int]):
    service, row_id = spent_nonce
    runtime = service.runtime
    assert runtime is not None
    runtime.outbox.recover()
    runtime.outbox.recover()
    rows = {r.id: r for r in service.outbox_rows()}
    assert rows[row_id].status == OutboxStatus.DROPPED
    assert "no transaction" in (rows[row_id].last_error or "")
    assert [r for r in rows.values() if r.replaces_id == row_id] == []  # not queued again: it cannot run twice
    assert service.balances()["trader"] == 0


def test_a_row_whose_nonce_another_transaction_took_is_sent_again_under_a_new_nonce(
        spent_nonce: tuple[NodeService, int]):
    """The case the second attempt is for: the member's key was used elsewhere, and the chain names that
    transaction."""
    service, row_id = spent_nonce
    runtime = service.runtime
    assert runtime is not None
    (row,) = [r for r in service.outbox_rows() if r.id == row_id]
    assert row.nonce is not None
    steel = service.addresses["steel"]
    rpc(service, "anvil_setNonce", steel, hex(row.nonce))
    account = runtime.keystore.account(steel)
    other = account.sign_transaction({"to": steel, "value": 0, "gas": 21_000, "nonce": row.nonce,
                                      "chainId": runtime.chain.chain_id, **runtime.chain.fees.fields})
    assert "result" in rpc(service, "eth_sendRawTransaction", "0x" + other.raw_transaction.hex())
    runtime.outbox.recover()
    runtime.outbox.recover(wait=True, timeout=10)
    rows = {r.id: r for r in service.outbox_rows()}
    (retry,) = [r for r in rows.values() if r.replaces_id == row_id]
    assert (rows[row_id].status, retry.status) == (OutboxStatus.DROPPED, OutboxStatus.MINED)
    assert service.balances()["trader"] == 5
