"""What a wallet does with a transaction a member is asked to sign (`eth_signTransaction`)."""

from __future__ import annotations

from typing import Any

from eth_account.signers.local import LocalAccount

QUANTITIES = ("nonce", "gas", "chainId", "value", "maxFeePerGas", "maxPriorityFeePerGas", "gasPrice", "type")


def sign_as_wallet(account: LocalAccount, tx: dict[str, Any]) -> str:
    """The signed raw transaction a wallet returns for `tx` as JSON-RPC gives it (quantities in hex), 0x-hex."""
    fields: dict[str, Any] = {k: int(v, 16) for k, v in tx.items() if k in QUANTITIES}
    fields.update(to=tx["to"], data=tx["data"])
    return "0x" + bytes(account.sign_transaction(fields).raw_transaction).hex()
