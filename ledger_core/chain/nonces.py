"""Per-signer locks and the chain's floor under a signer's nonces.

Nonces themselves come from the outbox (`Outbox._sign`): one past the highest nonce stored
for the signer, taken in the transaction that stores the signed rows, under the signer's
lock — a thread lock here, and on PostgreSQL an advisory lock that holds across service
processes. The chain's count (`floor`) matters only where the signer sent transactions
outside the outbox (the deployer's first ones): it is read once and cached, and read
again after `forget` (a node that forgot blocks, a refused nonce).
"""

from __future__ import annotations

import threading
from collections.abc import Callable


class NonceManager:
    def __init__(self, chain_nonce: Callable[[str], int]) -> None:
        """`chain_nonce(address)`: the node's pending transaction count for the address."""
        self._chain_nonce = chain_nonce
        self._floor: dict[str, int] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def lock(self, address: str) -> threading.Lock:
        """Held while a signer's nonces are taken and its signed transactions stored."""
        with self._guard:
            return self._locks.setdefault(address, threading.Lock())

    def floor(self, address: str) -> int:
        """The lowest nonce the chain leaves free for `address` (cached)."""
        found = self._floor.get(address)
        if found is None:
            found = self._floor[address] = self._chain_nonce(address)
        return found

    def forget(self, address: str | None = None) -> None:
        """Read the chain's count again at the next use (after the chain forgot blocks, say)."""
        with self._guard:
            if address is None:
                self._floor.clear()
            else:
                self._floor.pop(address, None)
