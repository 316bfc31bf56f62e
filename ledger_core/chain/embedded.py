"""The embedded chain: an in-process eth-tester (py-evm) chain on the Cancun fork.

It keeps no state on disk, so it lives as long as its process: the default for
tests and the demo. Its chain id is fixed by eth-tester (131277322940537).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from eth.exceptions import TransactionNotFound
from eth.vm.forks import CancunVM
from eth_tester import EthereumTester, PyEVMBackend
from eth_tester.backends.pyevm import main as pyevm
from eth_tester.backends.pyevm.serializers import serialize_transaction, serialize_transaction_receipt
from web3 import EthereumTesterProvider, Web3

DEFAULT_FUNDING_WEI = 10**21


def _find_transaction(chain: Any, transaction_hash: bytes) -> tuple[Any, Any, int]:
    """(block, transaction, index) of a transaction, through py-evm's lookup of a canonical transaction's
    block and index; eth-tester's own search (the pending block, then every block down from the head) when
    the lookup has no entry, or one left behind by a reverted snapshot."""
    try:
        number, index = chain.chaindb.get_transaction_index(transaction_hash)
    except TransactionNotFound:
        return pyevm._get_transaction_by_hash(chain, transaction_hash)
    if number < chain.get_block().number:
        block = chain.get_canonical_block_by_number(number)
        if index < len(block.transactions) and block.transactions[index].hash == transaction_hash:
            return block, block.transactions[index], index
    return pyevm._get_transaction_by_hash(chain, transaction_hash)


class _IndexedBackend(PyEVMBackend):  # type: ignore[misc]
    """eth-tester's py-evm backend, finding a mined transaction by its hash in one lookup. eth-tester reads
    every block from the head down for each transaction, and `eth_getLogs` asks for the receipt of every
    transaction in its range: a scan of a long chain's events took minutes."""

    def get_transaction_by_hash(self, transaction_hash: bytes) -> Any:
        block, transaction, index = _find_transaction(self.chain, transaction_hash)
        is_pending = block.number == self.chain.get_block().number
        return serialize_transaction(block, transaction, index, is_pending)

    def get_transaction_receipt(self, transaction_hash: bytes) -> Any:
        block, transaction, index = _find_transaction(self.chain, transaction_hash)
        is_pending = block.number == self.chain.get_block().number
        receipts = block.get_receipts(self.chain.chaindb)
        return serialize_transaction_receipt(block, receipts, transaction, index, is_pending, self.chain.get_vm())


@dataclass
class EmbeddedChain:
    """An eth-tester chain with its web3 handle; `tester` gives snapshots for tests."""

    w3: Web3
    tester: EthereumTester

    def fund(self, addresses: Iterable[str], wei: int = DEFAULT_FUNDING_WEI) -> None:
        """Give each address `wei` from the chain's pre-funded genesis account."""
        source = self.tester.get_accounts()[0]
        for address in addresses:
            self.tester.send_transaction(
                {"from": source, "to": address, "value": wei, "gas": 21000, "max_fee_per_gas": 10**10,
                 "max_priority_fee_per_gas": 10**9}
            )

    def snapshot(self) -> int:
        return int(self.tester.take_snapshot())

    def revert(self, snapshot_id: int) -> None:
        self.tester.revert_to_snapshot(snapshot_id)


def start_embedded() -> EmbeddedChain:
    """A fresh in-process chain (Cancun rules, as the contracts are compiled for)."""
    backend = _IndexedBackend(vm_configuration=((0, CancunVM),))
    tester = EthereumTester(backend)
    return EmbeddedChain(w3=Web3(EthereumTesterProvider(tester)), tester=tester)
