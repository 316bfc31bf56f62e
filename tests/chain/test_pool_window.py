"""A signer's transactions reach a local anvil node with at most `LOCAL_POOL_WINDOW` of them unmined.

With more than a thousand of one sender's transactions in its pool, anvil stopped mining them: 16 batch requests
of 200 from one member at once left 1,652 of 6,400 transfers in the pool, ready and unmined, after five minutes
(emptying the pool and sending them again did not help). The outbox therefore hands a signer's transactions to
such a node in chunks, each once enough of those before it are mined."""

from __future__ import annotations

from typing import Any

import pytest
from eth_account.typed_transactions import TypedTransaction
from hexbytes import HexBytes

from ledger_core.chain import outbox as outbox_module
from ledger_core.chain.outbox import Intent, OutboxStatus
from tests.chain.node_service import YEAR, NodeService


@pytest.fixture
def steel_holds_allowances(service: NodeService) -> NodeService:
    service.serve_cast(steel_allowances=1_000)
    return service


def test_a_signer_never_has_more_than_the_window_unmined_on_a_local_node(
    steel_holds_allowances: NodeService, monkeypatch: pytest.MonkeyPatch
):
    service = steel_holds_allowances
    runtime = service.runtime
    assert runtime is not None
    steel, trader = service.addresses["steel"], service.addresses["trader"]
    monkeypatch.setattr(outbox_module, "LOCAL_POOL_WINDOW", 30)
    chain = runtime.outbox.chain
    unmined_after_send: list[int] = []  # steel's transactions handed to the node and not yet in its blocks
    highest = -1
    real_send = chain.send_raw

    def send_raw(raws: list[str], hashes: list[str]) -> Any:
        nonlocal highest
        unmined_before = highest + 1 - chain.nonces([steel], "latest")[0]
        highest = max([highest] + [TypedTransaction.from_bytes(HexBytes(raw)).as_dict()["nonce"] for raw in raws])
        unmined_after_send.append(max(unmined_before, 0) + len(raws))
        return real_send(raws, hashes)

    monkeypatch.setattr(chain, "send_raw", send_raw)
    records = runtime.outbox.submit(
        [Intent("AllowanceRegistry", "safeTransferFrom", (steel, trader, YEAR, 1, b""), steel, requested_by=steel)
         for _ in range(100)], wait=True, timeout=60)
    assert [r.status for r in records] == [OutboxStatus.MINED] * 100
    assert service.balances()["trader"] == 100
    assert len(unmined_after_send) >= 4  # 100 transfers in chunks of 10
    assert max(unmined_after_send) <= 30
