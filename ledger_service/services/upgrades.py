"""Use cases of contract upgrades: propose, approve, run (`ledger_core/chain/upgrade.py` does the work).

A migration is a sequence of calls, each reading what the one before did, so it cannot be queued as
intents. Each of its transactions is signed with the regulator's custodial key and recorded and sent
through the outbox as that regulator's (`OutboxSender`), one after the other, so the outbox knows every
nonce the key used and reconciliation finds nothing it did not send. A finished upgrade is followed at
once by the whole service (the suite, the outbox, the event index) and, on a persistent network,
recorded in `deployments/<network>.json`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from web3.contract.contract import ContractFunction
from web3.types import TxReceipt

from ledger_core.chain.client import ChainClient
from ledger_core.chain.deploy import Deployment, write_deployment
from ledger_core.chain.errors import RevertDecoder
from ledger_core.chain.outbox import Outbox, RelayedTx
from ledger_core.chain.sender import GAS_HEADROOM, TransactionSender
from ledger_core.chain.suite import Suite
from ledger_core.chain.upgrade import (
    MigrationReport,
    Proposal,
    UpgradeError,
    approve_upgrade,
    propose_upgrade,
    run_upgrade,
)
from ledger_service.identity.keystore import KeyStore
from ledger_service.services.caller import Caller
from ledger_service.services.errors import conflict


class OutboxSender(TransactionSender):
    """A sender whose every transaction is recorded and sent by the outbox, as a regulator's signed transaction
    relayed for it (the outbox checks its nonce and preflights it like any other)."""

    def __init__(self, outbox: Outbox, chain: ChainClient, account: LocalAccount, decoder: RevertDecoder,
                 requested_by: str) -> None:
        super().__init__(chain.w3, account, decoder)
        self.outbox = outbox
        self.requested_by = requested_by
        self._call: tuple[str, str, list[Any]] = ("", "", [])

    def transact(self, fn: ContractFunction, gas: int | None = None, value: int = 0) -> TxReceipt:
        self._call = ("upgrade", fn.fn_name, list(fn.args))
        return super().transact(fn, gas, value)

    def deploy(self, contract_factory: Any, *args: Any) -> TxReceipt:
        self._call = ("upgrade", "deploy", list(args))
        return super().deploy(contract_factory, *args)

    def send_raw(self, to: str | None, data: bytes | str, gas: int | None = None, value: int = 0) -> HexBytes:
        tx: dict[str, Any] = {"data": HexBytes(data), "value": value, "chainId": self.chain_id, **self.fees.fields}
        if to is not None:
            tx["to"] = to
        tx["gas"] = gas or int(self.estimate(tx) * GAS_HEADROOM)
        tx["nonce"] = self.outbox.next_nonce(self.address)
        signed = self.account.sign_transaction(tx)
        contract, function, args = self._call
        relayed = RelayedTx(raw=bytes(signed.raw_transaction), tx_hash="0x" + bytes(signed.hash).hex(),
                            sender=self.address, nonce=tx["nonce"], gas_limit=tx["gas"], to=to or "", value=value,
                            calldata=bytes(HexBytes(data)), contract=contract, function=function, args=args,
                            max_fee_per_gas=int(tx.get("maxFeePerGas", 0)),
                            max_priority_fee_per_gas=int(tx.get("maxPriorityFeePerGas", 0)))
        self.outbox.relay(relayed, self.requested_by)
        return HexBytes(signed.hash)


@dataclass(frozen=True)
class UpgradeService:
    chain: ChainClient
    suite: Suite
    keystore: KeyStore
    outbox: Outbox
    follow: Callable[[Deployment], None]  # the whole service moves to the new record
    deployments_dir: Path | None  # where the record is written (None: the embedded chain keeps none)

    def _sender(self, regulator: str) -> TransactionSender:
        return OutboxSender(self.outbox, self.chain, self.keystore.account(regulator), self.suite.decoder, regulator)

    def propose(self, caller: Caller, contract: str, artifact: str | None = None) -> Proposal:
        """Deploy the new version of `contract` and propose it (the first regulator)."""
        with self.chain.exclusive():
            try:
                return propose_upgrade(self._sender(caller.address), self.suite, contract, artifact)
            except UpgradeError as exc:
                raise conflict(str(exc), "UpgradeRefused") from None

    def approve(self, caller: Caller, proposal_id: int) -> Proposal:
        """Approve a proposal (a second, different regulator)."""
        with self.chain.exclusive():
            try:
                return approve_upgrade(self._sender(caller.address), self.suite, proposal_id)
            except UpgradeError as exc:
                raise conflict(str(exc), "UpgradeRefused") from None

    def run(self, caller: Caller, proposal_id: int, artifact: str | None = None,
            progress: Callable[[str], None] | None = None) -> MigrationReport:
        """Migrate an approved upgrade; the service follows the new deployment from then on."""
        with self.chain.exclusive():
            try:
                record, report = run_upgrade(self._sender(caller.address), self.suite, proposal_id, artifact, progress)
            except UpgradeError as exc:
                raise conflict(str(exc), "UpgradeRefused") from None
        if self.deployments_dir is not None:
            write_deployment(record, self.deployments_dir, overwrite=True)
        self.follow(record)
        return report
