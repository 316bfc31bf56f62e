"""Local nonces per signer, safe under concurrent requests.

The first use of a signer starts from the larger of the chain's pending count and one
past the highest nonce the outbox already holds for it (a signed transaction that
never reached the node still owns its nonce). Nonces are handed out in blocks so a
batch of transactions takes one lock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable


class NonceManager:
    def __init__(self, chain_nonce: Callable[[str], int], stored_next: Callable[[str], int]) -> None:
        """`chain_nonce(address)`: the node's pending count; `stored_next(address)`: one past the
        outbox's highest nonce for the address (0 if none)."""
        self._chain_nonce = chain_nonce
        self._stored_next = stored_next
        self._next: dict[str, int] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def _lock_for(self, address: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(address, threading.Lock())

    def lock(self, address: str) -> threading.Lock:
        """Held while a signer's nonces are reserved and their transactions signed and stored,
        so nonces reach the outbox in order."""
        return self._lock_for(address)

    def reserve(self, address: str, count: int = 1) -> int:
        """The first of `count` consecutive nonces; call with `lock(address)` held."""
        if address not in self._next:
            self._next[address] = max(self._chain_nonce(address), self._stored_next(address))
        first = self._next[address]
        self._next[address] = first + count
        return first

    def release(self, address: str, first: int, count: int) -> None:
        """Give back the last reservation if nothing was signed with it (call with the lock held)."""
        if self._next.get(address) == first + count:
            self._next[address] = first

    def forget(self, address: str | None = None) -> None:
        """Start again from the chain and the outbox (after a chain snapshot was reverted, say)."""
        with self._guard:
            if address is None:
                self._next.clear()
            else:
                self._next.pop(address, None)
