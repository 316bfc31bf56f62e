"""Decode a signed raw transaction (legacy, EIP-2930 or EIP-1559) into what a relay must check."""

from __future__ import annotations

from dataclasses import dataclass

from eth.vm.forks.cancun.transactions import CancunTransactionBuilder

from ledger_core.chain.addresses import to_checksum_address


class MalformedTransaction(ValueError):
    """The bytes are not a signed transaction this chain's rules can read."""


@dataclass(frozen=True)
class DecodedTx:
    raw: bytes
    tx_hash: str
    sender: str
    chain_id: int | None
    nonce: int
    gas_limit: int
    to: str | None
    value: int
    data: bytes
    max_fee_per_gas: int = 0  # a legacy transaction's gas price is both its cap and its tip
    max_priority_fee_per_gas: int = 0


def decode_signed(raw: bytes) -> DecodedTx:
    try:
        tx = CancunTransactionBuilder.decode(raw)
        sender = tx.sender
    except Exception as exc:
        raise MalformedTransaction(f"not a signed transaction: {exc}") from None
    return DecodedTx(
        raw=raw,
        tx_hash="0x" + bytes(tx.hash).hex(),
        sender=to_checksum_address(sender),
        chain_id=getattr(tx, "chain_id", None),
        nonce=int(tx.nonce),
        gas_limit=int(tx.gas),
        to=to_checksum_address(tx.to) if tx.to else None,
        value=int(tx.value),
        data=bytes(tx.data),
        max_fee_per_gas=int(tx.max_fee_per_gas),
        max_priority_fee_per_gas=int(tx.max_priority_fee_per_gas),
    )
