"""The embedded chain finds a mined transaction by its hash in its own block (in one lookup, not a scan of the
chain), and never one of a block a snapshot's revert took back."""

from __future__ import annotations

import pytest
from eth_tester.exceptions import TransactionNotFound

from ledger_core.chain.embedded import EmbeddedChain, start_embedded


def _send(chain: EmbeddedChain, wei: int) -> str:
    source, target = chain.tester.get_accounts()[:2]
    return str(chain.tester.send_transaction({"from": source, "to": target, "value": wei, "gas": 21000,
                                              "max_fee_per_gas": 10**10, "max_priority_fee_per_gas": 10**9}))


def test_each_mined_transaction_is_found_in_its_own_block_with_its_receipt():
    chain = start_embedded()
    hashes = [_send(chain, wei) for wei in range(1, 21)]  # one block each
    receipts = [chain.tester.get_transaction_receipt(h) for h in hashes]
    assert [(r["transaction_hash"], r["block_number"], r["transaction_index"]) for r in receipts] == [
        (h, n, 0) for n, h in enumerate(hashes, start=1)]
    assert [chain.tester.get_transaction_by_hash(h)["value"] for h in hashes] == list(range(1, 21))


def test_a_transaction_of_a_reverted_block_is_not_found_and_its_height_holds_the_new_one():
    chain = start_embedded()
    _send(chain, 1)
    snapshot = chain.snapshot()
    forgotten = _send(chain, 2)
    chain.revert(snapshot)
    with pytest.raises(TransactionNotFound):
        chain.tester.get_transaction_receipt(forgotten)
    mined = _send(chain, 3)
    receipt = chain.tester.get_transaction_receipt(mined)
    assert (receipt["block_number"], chain.tester.get_transaction_by_hash(mined)["value"]) == (2, 3)
    with pytest.raises(TransactionNotFound):
        chain.tester.get_transaction_by_hash(forgotten)
