"""The embedded chain: an in-process eth-tester (py-evm) chain on the Cancun fork.

It keeps no state on disk, so it lives as long as its process: the default for
tests and the demo. Its chain id is fixed by eth-tester (131277322940537).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from eth.vm.forks import CancunVM
from eth_tester import EthereumTester, PyEVMBackend
from web3 import EthereumTesterProvider, Web3

DEFAULT_FUNDING_WEI = 10**21


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
    backend = PyEVMBackend(vm_configuration=((0, CancunVM),))
    tester = EthereumTester(backend)
    return EmbeddedChain(w3=Web3(EthereumTesterProvider(tester)), tester=tester)
