"""Sign locally and send, with a local nonce, cached chain id and fees, and decoded reverts.

web3's per-call fills (nonce and fee look-ups, receipt polling) dominate the cost
of a transaction on a fast chain, so the sender keeps its own nonce, caches the
chain id and fee parameters, and asks the node only to estimate gas (which is also
where a revert surfaces, with its data) and to take the raw transaction.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from web3 import Web3
from web3.contract.contract import ContractFunction
from web3.types import TxReceipt

from ledger_core.chain.errors import ContractRevert, RevertDecoder

GAS_HEADROOM = 1.2


class TransactionFailedOnChain(ContractRevert):
    """A transaction was mined with status 0 (its revert data replayed where the node allows)."""


@dataclass(frozen=True)
class FeePolicy:
    """Fee fields for a transaction: EIP-1559 where the chain has a base fee, legacy otherwise."""

    fields: dict[str, int]

    @property
    def max_price(self) -> int:
        """The most a unit of gas may cost (0 on a free-gas network)."""
        return int(self.fields.get("maxFeePerGas", self.fields.get("gasPrice", 0)))

    @classmethod
    def detect(cls, w3: Web3) -> FeePolicy:
        block = w3.eth.get_block("latest")
        base_fee = block.get("baseFeePerGas")
        if base_fee is None:
            return cls({"gasPrice": int(w3.eth.gas_price)})
        tip = 10**9 if base_fee > 0 else 0
        # Twice the base fee plus the tip survives six full blocks of base-fee growth.
        return cls({"maxFeePerGas": 2 * int(base_fee) + tip, "maxPriorityFeePerGas": tip})


class TransactionSender:
    """Sends transactions for one local account; safe to share between threads."""

    def __init__(
        self,
        w3: Web3,
        account: LocalAccount,
        decoder: RevertDecoder,
        fees: FeePolicy | None = None,
        gas_limit: int | None = None,
    ):
        """`gas_limit` skips estimation (one EVM run instead of a search): right where gas is free
        or plentiful (embedded chain, QBFT with zero gas price). A transaction that then fails is
        replayed with eth_call to recover its custom error."""
        self.w3 = w3
        self.account = account
        self.decoder = decoder
        self.chain_id = w3.eth.chain_id
        self.fees = fees or FeePolicy.detect(w3)
        self.gas_limit = gas_limit
        self._lock = threading.Lock()
        self._nonce: int = int(w3.eth.get_transaction_count(account.address, "pending"))

    @property
    def address(self) -> str:
        return str(self.account.address)

    def resync_nonce(self) -> None:
        with self._lock:
            self._nonce = int(self.w3.eth.get_transaction_count(self.account.address, "pending"))

    def estimate(self, tx: dict[str, Any]) -> int:
        try:
            return int(self.w3.eth.estimate_gas({**tx, "from": self.account.address}))  # type: ignore[arg-type, typeddict-item]
        except Exception as exc:
            revert = self.decoder.from_exception(exc)
            if revert is None:
                raise
            raise revert from None

    def send_raw(self, to: str | None, data: bytes | str, gas: int | None = None, value: int = 0) -> HexBytes:
        """Sign and send; returns the transaction hash. Reverts surface at gas estimation."""
        tx: dict[str, Any] = {"data": HexBytes(data), "value": value, "chainId": self.chain_id, **self.fees.fields}
        if to is not None:
            tx["to"] = to
        if gas is None:
            gas = self.gas_limit or int(self.estimate(tx) * GAS_HEADROOM)
        with self._lock:
            tx["nonce"] = self._nonce
            tx["gas"] = gas
            signed = self.account.sign_transaction(tx)
            tx_hash = self.w3.eth.send_raw_transaction(signed.raw_transaction)
            self._nonce += 1
        return tx_hash

    def wait(self, tx_hash: HexBytes, timeout: float = 120) -> TxReceipt:
        receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=timeout, poll_latency=0.01)
        if receipt["status"] != 1:
            raise TransactionFailedOnChain("TransactionFailed", {"tx_hash": tx_hash.hex()})
        return receipt

    def transact(self, fn: ContractFunction, gas: int | None = None, value: int = 0) -> TxReceipt:
        """Call a contract function in a transaction and wait for its receipt."""
        data = fn._encode_transaction_data()
        tx_hash = self.send_raw(fn.address, data, gas=gas, value=value)
        try:
            return self.wait(tx_hash)
        except TransactionFailedOnChain:
            self._raise_replayed_revert(fn.address, data, value, tx_hash)
            raise

    def _raise_replayed_revert(self, to: str, data: bytes | str, value: int, tx_hash: HexBytes) -> None:
        """Re-run a failed transaction as a call on the state it met, to decode why it failed."""
        receipt = self.w3.eth.get_transaction_receipt(tx_hash)
        call = {"from": self.account.address, "to": to, "data": HexBytes(data), "value": value}
        try:
            self.w3.eth.call(call, block_identifier=max(receipt["blockNumber"] - 1, 0))  # type: ignore[arg-type]
        except Exception as exc:
            revert = self.decoder.from_exception(exc)
            if revert is not None:
                raise revert from None
            raise

    def deploy(self, contract_factory: Any, *args: Any) -> TxReceipt:
        data = contract_factory.constructor(*args).data_in_transaction
        return self.wait(self.send_raw(None, data))
