"""EIP-55 checksummed addresses, remembered.

Every request checksums the same few members' addresses (its caller, the counterparty, the indexed
holders), and each checksum costs a Keccak-256 of the address. The answers are kept, a bounded number
of them; an invalid address still raises `ValueError` every time.
"""

from __future__ import annotations

from functools import lru_cache

from eth_typing import ChecksumAddress
from eth_utils import to_checksum_address as _checksum

CACHED = 1 << 16


@lru_cache(maxsize=CACHED)
def to_checksum_address(address: str | bytes) -> ChecksumAddress:
    """The address in EIP-55 mixed case (`eth_utils.to_checksum_address`, cached)."""
    return _checksum(address)
